import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities, type SagaActivities, type StepResult } from '../../activities';
import { CommandHandler } from '../../src/application/commandHandler';
import { type AccountCommand, createAccountDecider } from '../../src/domain/account';
import type { EventStore } from '../../src/eventstore';
import { checkAccount } from '../support/faults';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

/**
 * The refundDebit activity against a real event store, with an account decider whose
 * reference window is 3: three movements after a debit are enough for the window to forget
 * it (in production: 10,000, e.g. a transfer whose credit kept failing on a busy account).
 */
describe('refundDebit: the debit as the stream records it, not as the window remembers it', () => {
  const WINDOW = 3;
  const decider = createAccountDecider({ referenceWindow: WINDOW });
  let db: TestDatabase;
  let commands: CommandHandler;
  let activities: SagaActivities;

  beforeAll(async () => {
    db = await createTestDatabase('refund_lookup');
    commands = new CommandHandler(db.eventStore);
    activities = createActivities({
      commands,
      eventStore: db.eventStore,
      unservedCountries: [],
      accountDecider: decider,
    });
  });
  afterAll(() => db.drop());

  /** The activity as a saga's step: inside workflow `workflowId`. */
  const inSaga = (workflowId: string) =>
    new MockActivityEnvironment({ workflowExecution: { workflowId, runId: 'run-1' } });

  type DebitInput = Parameters<SagaActivities['debitAccount']>[0];
  type RefundInput = Parameters<SagaActivities['refundDebit']>[0];
  const debitIn = (env: MockActivityEnvironment, input: DebitInput): Promise<StepResult> =>
    env.run(() => activities.debitAccount(input));
  const refundIn = (
    env: MockActivityEnvironment,
    input: RefundInput,
    acts = activities,
  ): Promise<StepResult> => env.run(() => acts.refundDebit(input));

  const direct = (accountId: string, command: Omit<AccountCommand, 'metadata'>, id: string) =>
    commands.handle(
      decider,
      accountId,
      { ...command, metadata: { now: new Date().toISOString() } } as AccountCommand,
      { commandId: id },
    );
  const open = (accountId: string, initialDeposit: number) =>
    direct(
      accountId,
      { type: 'OpenAccount', data: { accountId, ownerId: 'o', initialDeposit } },
      `open/${accountId}`,
    );
  /** `count` deposits of 1: movements that push older references out of the window. */
  const depositMany = async (accountId: string, count: number, tag: string) => {
    for (let i = 0; i < count; i++) {
      const reference = `${tag}-${i}`;
      await direct(
        accountId,
        { type: 'DepositFunds', data: { accountId, amount: 1, reference } },
        `deposit/${reference}`,
      );
    }
  };
  const rejectionOf = async (run: Promise<unknown>) => {
    const error = await run.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ApplicationFailure);
    const failure = error as ApplicationFailure;
    expect(failure.type).toBe('DomainRejection');
    expect(failure.nonRetryable).toBe(true);
    return failure.details?.[0] as { code: string; details: Record<string, unknown> };
  };

  it('pays back a debit the window forgot (refund long after its debit), once, ever', async () => {
    await open('long-src', 1_000);
    const env = inSaga('transfer-long');
    const transfer = { accountId: 'long-src', amount: 300 };
    const debitReference = 'transfer-long/debit';
    await debitIn(env, { ...transfer, reference: debitReference });
    // The credit keeps failing for a while; meanwhile the source sees other movements.
    await depositMany('long-src', WINDOW + 2, 'busy');
    const { state } = await direct(
      'long-src',
      { type: 'DepositFunds', data: { accountId: 'long-src', amount: 1, reference: 'last' } },
      'deposit/last',
    );
    expect(state.status !== 'NONE' && state.recentReferences).not.toContain(
      `debit:${debitReference}`,
    );
    const before = (await checkAccount(db.eventStore, 'long-src')).balance;
    expect(before).toBe(1_000 - 300 + WINDOW + 3);

    const refund = { ...transfer, debitReference, refundReference: 'transfer-long/refund' };
    const result = await refundIn(env, refund);
    expect(result.noop).toBe(false);
    const after = await checkAccount(db.eventStore, 'long-src');
    expect(after.balance).toBe(before + 300);
    expect(after.events.map((e) => e.type)).not.toContain('DebitVoided');
    expect(after.events.at(-1)).toMatchObject({
      type: 'AccountCredited',
      data: { amount: 300, reference: 'transfer-long/refund' },
    });

    // Retried (the reply was lost), now and much later, by a process that remembers nothing:
    // still applied once.
    await refundIn(env, refund);
    await depositMany('long-src', WINDOW + 2, 'later');
    const fresh = createActivities({
      commands: new CommandHandler(db.eventStore),
      eventStore: db.eventStore,
      unservedCountries: [],
      accountDecider: decider,
    });
    await refundIn(env, refund, fresh);
    const finally_ = await checkAccount(db.eventStore, 'long-src');
    expect(finally_.balance).toBe(before + 300 + WINDOW + 2);
    expect(
      finally_.events.filter(
        (e) => (e.data as { reference?: string }).reference === 'transfer-long/refund',
      ),
    ).toHaveLength(1);
  });

  it('still voids a debit that never happened, and the late debit then takes nothing', async () => {
    await open('void-src', 1_000);
    const env = inSaga('transfer-void');
    const debitReference = 'transfer-void/debit';
    await refundIn(env, {
      accountId: 'void-src',
      amount: 300,
      debitReference,
      refundReference: 'transfer-void/refund',
    });
    // The timed-out debit attempt that was still running arrives after its compensation.
    await debitIn(env, {
      accountId: 'void-src',
      amount: 300,
      reference: debitReference,
    });
    const account = await checkAccount(db.eventStore, 'void-src');
    expect(account.balance).toBe(1_000);
    expect(account.events.map((e) => e.type)).toEqual([
      'AccountOpened',
      'FundsDeposited',
      'DebitVoided',
    ]);
  });

  it('looks again when the debit committed after its lookup (never voids it, never guesses)', async () => {
    await open('race-src', 1_000);
    const env = inSaga('transfer-race');
    const debitReference = 'transfer-race/debit';
    await debitIn(env, { accountId: 'race-src', amount: 300, reference: debitReference });
    // The first lookup misses the debit, as if it committed just after (a late attempt).
    let lookups = 0;
    const missingOnce = Object.create(db.eventStore) as EventStore;
    missingOnce.readEventsById = async (streamId, ids) => {
      lookups += 1;
      return lookups === 1 ? [] : db.eventStore.readEventsById(streamId, ids);
    };
    const racing = createActivities({
      commands,
      eventStore: missingOnce,
      unservedCountries: [],
      accountDecider: decider,
    });
    await refundIn(
      env,
      {
        accountId: 'race-src',
        amount: 300,
        debitReference,
        refundReference: 'transfer-race/refund',
      },
      racing,
    );
    expect(lookups).toBe(2);
    const account = await checkAccount(db.eventStore, 'race-src');
    expect(account.balance).toBe(1_000);
    expect(account.events.map((e) => e.type)).toEqual([
      'AccountOpened',
      'FundsDeposited',
      'AccountDebited',
      'AccountCredited',
    ]);
  });

  it('finds a debit with its reference made under another command id (within the window)', async () => {
    await open('other-src', 1_000);
    const debitReference = 'transfer-other/debit';
    // Not this run's debit step: the same reference under another command id.
    await direct(
      'other-src',
      {
        type: 'DebitAccount',
        data: { accountId: 'other-src', amount: 300, reference: debitReference },
      },
      'elsewhere/debit',
    );
    await refundIn(inSaga('transfer-other'), {
      accountId: 'other-src',
      amount: 300,
      debitReference,
      refundReference: 'transfer-other/refund',
    });
    const account = await checkAccount(db.eventStore, 'other-src');
    expect(account.balance).toBe(1_000);
    expect(account.events.map((e) => e.type)).toEqual([
      'AccountOpened',
      'FundsDeposited',
      'AccountDebited',
      'AccountCredited',
    ]);
  });

  it('refuses a refund of another amount than the debit took, and pays nothing', async () => {
    await open('amount-src', 1_000);
    const env = inSaga('transfer-amount');
    const debitReference = 'transfer-amount/debit';
    await debitIn(env, {
      accountId: 'amount-src',
      amount: 300,
      reference: debitReference,
    });
    const refund = (amount: number) =>
      refundIn(env, {
        accountId: 'amount-src',
        amount,
        debitReference,
        refundReference: 'transfer-amount/refund',
      });

    for (const amount of [500, 100]) {
      const rejection = await rejectionOf(refund(amount));
      expect(rejection).toEqual({
        code: 'REFUND_AMOUNT_MISMATCH',
        details: { accountId: 'amount-src', debitReference, requested: amount, debited: 300 },
      });
    }
    expect((await checkAccount(db.eventStore, 'amount-src')).balance).toBe(700);

    // The right amount pays back exactly what the debit took.
    await refund(300);
    expect((await checkAccount(db.eventStore, 'amount-src')).balance).toBe(1_000);
  });
});
