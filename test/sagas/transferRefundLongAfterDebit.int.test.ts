import type { SagaStatusView } from '../../workflows/definitions';
import { type AccountCommand, createAccountDecider } from '../../src/domain/account';
import { checkAccount, failWhile, withFaults } from '../support/faults';
import { SagaHarness } from '../support/sagaHarness';

/**
 * A transfer whose credit keeps failing for a long time while its source account stays busy:
 * by the time the credit is refused, the source saw more movements than its reference window
 * holds (here 3, in production 10,000). The refund must still pay the debit back.
 */
describe('a transfer refunded long after its debit', () => {
  const WINDOW = 3;
  const accountDecider = createAccountDecider({ referenceWindow: WINDOW });
  /** While set, crediting the destination of transfer "long" fails (retryably). */
  let creditDown = true;
  const creditCalls = { count: 0 };
  const h = new SagaHarness('refund_long_after', {
    activityDependencies: { accountDecider },
    wrapActivities: (real) =>
      withFaults(real, {
        creditAccount: (fn) =>
          failWhile('creditAccount', fn, {
            match: (input) => input.reference === 'transfer-long/credit',
            isFailing: () => creditDown,
            calls: creditCalls,
          }),
      }),
  });
  beforeAll(() => h.start());
  afterAll(() => h.stop());

  const deposit = (accountId: string, reference: string) =>
    h.commands.handle(
      accountDecider,
      accountId,
      {
        type: 'DepositFunds',
        data: { accountId, amount: 1, reference },
        metadata: { now: new Date().toISOString() },
      } satisfies AccountCommand,
      { commandId: `deposit/${reference}` },
    );

  it('pays the source back what the debit took, however many movements came between', async () => {
    await h.openAccount('long-src', 5_000);
    await h.openAccount('long-dst', 0);
    const { sagaId } = await h.startTransfer('long', 'long-src', 'long-dst', 700);
    await h.waitForStatus(sagaId, (s) => s.status === 'DEBITED' && creditCalls.count > 0);

    // Meanwhile the source is busy: its window forgets the transfer's debit.
    const movements = WINDOW + 2;
    for (let i = 0; i < movements; i++) await deposit('long-src', `busy-${i}`);
    const remembered = h.commands.remembered(accountDecider.streamId('long-src'));
    expect(remembered).toBeDefined();
    expect(JSON.stringify(remembered!.state)).not.toContain('transfer-long/debit');

    // The destination is frozen for good: the credit is refused, the source refunded.
    await h.freeze('long-dst');
    creditDown = false;
    const result = await h.result(sagaId);
    expect(result.outcome).toBe('COMPENSATED');
    expect(result.reason).toMatch(/^ACCOUNT_FROZEN/);
    expect((await h.status(sagaId)) as Partial<SagaStatusView>).toMatchObject({
      compensationsRun: ['refund source'],
    });

    const source = await checkAccount(h.db.eventStore, 'long-src');
    expect(source.balance).toBe(5_000 + movements);
    const types = source.events.map((e) => e.type);
    expect(types).not.toContain('DebitVoided');
    expect(source.events.at(-1)).toMatchObject({
      type: 'AccountCredited',
      data: { amount: 700, reference: 'transfer-long/refund' },
    });
    expect(await h.balance('long-dst')).toBe(0);
  });
});
