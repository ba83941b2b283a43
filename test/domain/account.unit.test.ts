import fc from 'fast-check';
import {
  type AccountCommand,
  type AccountEvent,
  type AccountState,
  accountDecider,
  ACCOUNT_EVENT_SCHEMA_VERSIONS,
  createAccountDecider,
  DEFAULT_REFERENCE_WINDOW,
} from '../../src/domain/account';
import { DomainRejection, isRejection } from '../../src/domain/decider';
import { DeciderSpecification } from '../support/deciderSpec';

const now = '2025-01-02T03:04:05.000Z';
const metadata = { now };
const spec = DeciderSpecification.for(accountDecider);

const open = (initialDeposit?: number, ownerId = 'owner-1'): AccountCommand => ({
  type: 'OpenAccount',
  data: {
    accountId: 'acc-1',
    ownerId,
    ...(initialDeposit === undefined ? {} : { initialDeposit }),
  },
  metadata,
});
const move = (
  type: 'DepositFunds' | 'DebitAccount' | 'CreditAccount',
  amount: number,
  reference: string,
): AccountCommand => ({ type, data: { accountId: 'acc-1', amount, reference }, metadata });

const opened: AccountEvent = {
  type: 'AccountOpened',
  data: { accountId: 'acc-1', ownerId: 'owner-1', openedAt: now },
};
const deposited = (amount: number, reference: string, balanceAfter: number): AccountEvent => ({
  type: 'FundsDeposited',
  data: { accountId: 'acc-1', amount, reference, balanceAfter },
});
const debited = (amount: number, reference: string, balanceAfter: number): AccountEvent => ({
  type: 'AccountDebited',
  data: { accountId: 'acc-1', amount, reference, balanceAfter },
});
const frozen: AccountEvent = {
  type: 'AccountFrozen',
  data: { accountId: 'acc-1', reason: 'fraud check' },
};

describe('Account decider', () => {
  it('has the expected stream, snapshot policy and schema versions', () => {
    expect(accountDecider.streamType).toBe('account');
    expect(accountDecider.streamId('acc-1')).toBe('account-acc-1');
    expect(accountDecider.snapshot).toEqual({ every: 100, stateSchemaVersion: 3 });
    expect(ACCOUNT_EVENT_SCHEMA_VERSIONS).toEqual({
      AccountOpened: 1,
      FundsDeposited: 1,
      AccountDebited: 1,
      AccountCredited: 1,
      AccountFrozen: 1,
      DebitVoided: 1,
    });
  });

  describe('OpenAccount', () => {
    it('opens with the command time', () => {
      spec.when(open()).then([opened]);
    });

    it('opens with an initial deposit as a second event', () => {
      const state = spec.when(open(500)).then([opened, deposited(500, 'initial-deposit', 500)]);
      expect(state).toMatchObject({ status: 'OPEN', balance: 500, ownerId: 'owner-1' });
    });

    it('treats an initial deposit of 0 as none', () => {
      spec.when(open(0)).then([opened]);
    });

    it('rejects a negative or fractional initial deposit', () => {
      spec.when(open(-1)).thenRejects('INVALID_AMOUNT');
      spec.when(open(1.5)).thenRejects('INVALID_AMOUNT');
    });

    it('is idempotent for the same owner, also when frozen', () => {
      spec.given([opened]).when(open(500)).thenNothing();
      spec.given([opened, frozen]).when(open()).thenNothing();
    });

    it('rejects another owner', () => {
      spec
        .given([opened])
        .when(open(undefined, 'owner-2'))
        .thenRejects('ACCOUNT_ALREADY_EXISTS', { ownerId: 'owner-1' });
    });
  });

  describe('money movements', () => {
    it('deposits, debits and credits with the balance after', () => {
      spec
        .given([opened])
        .when(move('DepositFunds', 100, 'd1'))
        .then([deposited(100, 'd1', 100)]);
      spec
        .given([opened, deposited(100, 'd1', 100)])
        .when(move('DebitAccount', 40, 't1'))
        .then([debited(40, 't1', 60)]);
      spec
        .given([opened, deposited(100, 'd1', 100)])
        .when(move('CreditAccount', 25, 't2'))
        .then([
          {
            type: 'AccountCredited',
            data: { accountId: 'acc-1', amount: 25, reference: 't2', balanceAfter: 125 },
          },
        ]);
    });

    it('allows debiting the whole balance', () => {
      spec
        .given([opened, deposited(100, 'd1', 100)])
        .when(move('DebitAccount', 100, 't1'))
        .then([debited(100, 't1', 0)]);
    });

    it('rejects a debit beyond the balance', () => {
      spec
        .given([opened, deposited(100, 'd1', 100)])
        .when(move('DebitAccount', 101, 't1'))
        .thenRejects('INSUFFICIENT_FUNDS', { requested: 101, available: 100 });
    });

    it.each([0, -5, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('rejects amount %p', (amount) => {
      for (const type of ['DepositFunds', 'DebitAccount', 'CreditAccount'] as const)
        spec
          .given([opened])
          .when(move(type, amount, 'r'))
          .thenRejects('INVALID_AMOUNT');
    });

    it('rejects movements on an account that does not exist', () => {
      for (const type of ['DepositFunds', 'DebitAccount', 'CreditAccount'] as const)
        spec.when(move(type, 10, 'r')).thenRejects('ACCOUNT_NOT_FOUND');
    });

    it('rejects movements on a frozen account', () => {
      for (const type of ['DepositFunds', 'DebitAccount', 'CreditAccount'] as const)
        spec
          .given([opened, deposited(100, 'd1', 100), frozen])
          .when(move(type, 10, 'new'))
          .thenRejects('ACCOUNT_FROZEN');
    });

    it('is idempotent per reference', () => {
      spec
        .given([opened, deposited(100, 'd1', 100)])
        .when(move('DepositFunds', 100, 'd1'))
        .thenNothing();
      spec
        .given([opened, deposited(100, 'd1', 100), debited(100, 't1', 0)])
        .when(move('DebitAccount', 100, 't1'))
        .thenNothing();
      spec
        .given([opened, deposited(100, 'initial-deposit', 100)])
        .when(move('DepositFunds', 100, 'initial-deposit'))
        .thenNothing();
    });

    it('answers a retry after the freeze with a no-op, not a rejection', () => {
      spec
        .given([opened, deposited(100, 'd1', 100), debited(30, 't1', 70), frozen])
        .when(move('DebitAccount', 30, 't1'))
        .thenNothing();
    });

    it('lets a refund credit reuse the reference of the debit it compensates', () => {
      spec
        .given([opened, deposited(100, 'd1', 100), debited(30, 't1', 70)])
        .when(move('CreditAccount', 30, 't1'))
        .then([
          {
            type: 'AccountCredited',
            data: { accountId: 'acc-1', amount: 30, reference: 't1', balanceAfter: 100 },
          },
        ]);
    });
  });

  describe('RefundDebit', () => {
    /** `debit`: what the caller found in the stream (by default: a debit of `amount`). */
    const refund = (
      amount = 30,
      debitReference = 't1',
      debit: { amount: number } | null = { amount },
    ): AccountCommand => ({
      type: 'RefundDebit',
      data: {
        accountId: 'acc-1',
        amount,
        debitReference,
        refundReference: `refund-${debitReference}`,
        debit,
      },
      metadata,
    });
    const refunded: AccountEvent = {
      type: 'AccountCredited',
      data: { accountId: 'acc-1', amount: 30, reference: 'refund-t1', balanceAfter: 100 },
    };
    const history = [opened, deposited(100, 'd1', 100), debited(30, 't1', 70)];

    it('credits back a debit that happened', () => {
      spec.given(history).when(refund()).then([refunded]);
    });
    it('also on a frozen account (it returns money the saga took)', () => {
      spec
        .given([...history, frozen])
        .when(refund())
        .then([refunded]);
    });
    it('voids the debit reference when the debit never happened', () => {
      spec
        .given(history)
        .when(refund(30, 'other', null))
        .then([{ type: 'DebitVoided', data: { accountId: 'acc-1', reference: 'other' } }]);
      spec
        .given([
          ...history,
          { type: 'DebitVoided', data: { accountId: 'acc-1', reference: 'other' } },
        ])
        .when(refund(30, 'other', null))
        .thenNothing();
      spec.when(refund(30, 't1', null)).thenNothing();
    });
    it('makes a debit that arrives after its compensation a no-op (late zombie)', () => {
      spec
        .given([
          ...history,
          { type: 'DebitVoided', data: { accountId: 'acc-1', reference: 'late' } },
        ])
        .when({
          type: 'DebitAccount',
          data: { accountId: 'acc-1', amount: 10, reference: 'late' },
          metadata,
        })
        .thenNothing();
    });
    it('is idempotent per refund reference', () => {
      spec
        .given([...history, refunded])
        .when(refund())
        .thenNothing();
    });
    it('rejects an invalid amount', () => {
      spec.given(history).when(refund(0)).thenRejects('INVALID_AMOUNT');
    });
    it('refunds a debit the reference window forgot: the stream, not the window, says it happened', () => {
      const small = DeciderSpecification.for(createAccountDecider({ referenceWindow: 3 }));
      // Three movements after the debit: the window no longer holds it.
      const longAfter = [
        ...history,
        deposited(1, 'd2', 71),
        deposited(1, 'd3', 72),
        deposited(1, 'd4', 73),
      ];
      small
        .given(longAfter)
        .when(refund())
        .then([
          {
            type: 'AccountCredited',
            data: { accountId: 'acc-1', amount: 30, reference: 'refund-t1', balanceAfter: 103 },
          },
        ]);
    });
    it('refuses an amount other than what the debit took, and pays nothing', () => {
      spec
        .given(history)
        .when(refund(50, 't1', { amount: 30 }))
        .thenRejects('REFUND_AMOUNT_MISMATCH', {
          accountId: 'acc-1',
          debitReference: 't1',
          requested: 50,
          debited: 30,
        });
      spec
        .given(history)
        .when(refund(10, 't1', { amount: 30 }))
        .thenRejects('REFUND_AMOUNT_MISMATCH');
    });
    it('refuses to void a debit its caller did not find but the state holds (look again)', () => {
      spec
        .given(history)
        .when(refund(30, 't1', null))
        .thenRejects('REFUND_DEBIT_LOOKUP_STALE');
    });
  });

  describe('FreezeAccount', () => {
    const freeze: AccountCommand = {
      type: 'FreezeAccount',
      data: { accountId: 'acc-1', reason: 'fraud check' },
      metadata,
    };
    it('freezes an open account', () => {
      const state = spec.given([opened]).when(freeze).then([frozen]);
      expect(state.status).toBe('FROZEN');
    });
    it('is idempotent', () => {
      spec.given([opened, frozen]).when(freeze).thenNothing();
    });
    it('rejects an unknown account', () => {
      spec.when(freeze).thenRejects('ACCOUNT_NOT_FOUND');
    });
  });

  describe('reference window', () => {
    /** An account with `count` deposits of 1 (references dep-1 … dep-count), as a fold. */
    const withDeposits = (count: number, decider = accountDecider): AccountState => {
      let state = decider.evolve(decider.initialState(), opened);
      for (let i = 1; i <= count; i++) state = decider.evolve(state, deposited(1, `dep-${i}`, i));
      return state;
    };
    const referencesOf = (state: AccountState) =>
      state.status === 'NONE' ? [] : state.recentReferences;

    it('stays bounded however many movements an account sees, counting what it forgot', () => {
      const state = withDeposits(DEFAULT_REFERENCE_WINDOW + 2_500);
      expect(referencesOf(state)).toHaveLength(DEFAULT_REFERENCE_WINDOW);
      expect(referencesOf(state)[0]).toBe('deposit:dep-2501');
      expect(referencesOf(state).at(-1)).toBe(`deposit:dep-${DEFAULT_REFERENCE_WINDOW + 2_500}`);
      expect(state).toMatchObject({ balance: DEFAULT_REFERENCE_WINDOW + 2_500 });
      expect(state.status !== 'NONE' && state.forgottenReferences).toBe(2_500);
    });

    it('keeps the newest references, oldest first, and still treats a recent repeat as done', () => {
      const small = createAccountDecider({ referenceWindow: 3 });
      const state = withDeposits(5, small);
      expect(referencesOf(state)).toEqual(['deposit:dep-3', 'deposit:dep-4', 'deposit:dep-5']);
      expect(small.decide(move('DepositFunds', 1, 'dep-4'), state)).toEqual([]);
      // Beyond the window the decider no longer knows it: the command handler's event-id
      // check is what keeps a retried command from applying twice (commandHandler tests).
      expect(small.decide(move('DepositFunds', 1, 'dep-1'), state)).toHaveLength(1);
    });

    it('voids and refunds within the window as before', () => {
      const small = createAccountDecider({ referenceWindow: 3 });
      let state = withDeposits(1, small);
      state = small.evolve(state, debited(1, 'pay', 0));
      const refund: AccountCommand = {
        type: 'RefundDebit',
        data: {
          accountId: 'acc-1',
          amount: 1,
          debitReference: 'pay',
          refundReference: 'back',
          debit: { amount: 1 },
        },
        metadata,
      };
      expect(small.decide(refund, state)).toEqual([
        {
          type: 'AccountCredited',
          data: { accountId: 'acc-1', amount: 1, reference: 'back', balanceAfter: 1 },
        },
      ]);
    });

    it('refuses a window that is not a positive integer', () => {
      expect(() => createAccountDecider({ referenceWindow: 0 })).toThrow(/reference window/);
    });
  });

  it('returns rejections instead of throwing, for unknown commands too', () => {
    const decision = accountDecider.decide(
      { type: 'Nope', data: {}, metadata } as unknown as AccountCommand,
      accountDecider.initialState(),
    );
    expect(isRejection(decision)).toBe(true);
    expect(decision).toBeInstanceOf(DomainRejection);
    expect((decision as DomainRejection).code).toBe('UNKNOWN_COMMAND');
  });

  it('keeps state JSON-serializable (snapshots)', () => {
    const events = [opened, deposited(100, 'd1', 100), debited(30, 't1', 70), frozen];
    const state = events.reduce(accountDecider.evolve, accountDecider.initialState());
    expect(JSON.parse(JSON.stringify(state))).toEqual(state);
  });

  it('property: the balance never goes negative and matches the accepted movements', () => {
    const commandArb: fc.Arbitrary<AccountCommand> = fc.oneof(
      fc
        .record({
          type: fc.constantFrom('DepositFunds', 'DebitAccount', 'CreditAccount'),
          amount: fc.oneof(fc.integer({ min: -10, max: 500 }), fc.double({ noNaN: false })),
          reference: fc.constantFrom('r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8'),
        })
        .map(({ type, amount, reference }) => move(type, amount, reference)),
      fc.option(fc.nat(300), { nil: undefined }).map((deposit) => open(deposit)),
      fc
        .tuple(
          // 0 stands for "what the debit took" (filled in below, as the stream would say).
          fc.oneof(fc.constant(0), fc.integer({ min: -5, max: 300 })),
          fc.constantFrom('r1', 'r2', 'r3', 'r4'),
        )
        .map(([amount, reference]): AccountCommand => ({
          type: 'RefundDebit',
          data: {
            accountId: 'acc-1',
            amount,
            debitReference: reference,
            refundReference: `rf-${reference}`,
            debit: null,
          },
          metadata,
        })),
      fc.constant<AccountCommand>({
        type: 'FreezeAccount',
        data: { accountId: 'acc-1', reason: 'x' },
        metadata,
      }),
    );
    fc.assert(
      fc.property(fc.array(commandArb, { maxLength: 60 }), (commands) => {
        let state: AccountState = accountDecider.initialState();
        let expected = 0;
        /** The stream's debits by reference (what the refund activity looks up). */
        const debits = new Map<string, number>();
        for (const generated of commands) {
          let command = generated;
          if (command.type === 'RefundDebit') {
            const debited = debits.get(command.data.debitReference);
            const debit = debited === undefined ? null : { amount: debited };
            const amount = command.data.amount === 0 ? (debited ?? 1) : command.data.amount;
            command = { ...command, data: { ...command.data, amount, debit } };
          }
          const decision = accountDecider.decide(command, state);
          if (isRejection(decision)) continue;
          for (const event of decision) {
            if (event.type === 'FundsDeposited' || event.type === 'AccountCredited')
              expected += event.data.amount;
            if (event.type === 'AccountDebited') {
              expected -= event.data.amount;
              debits.set(event.data.reference, event.data.amount);
            }
            if (command.type === 'RefundDebit' && event.type === 'AccountCredited')
              expect(event.data.amount).toBe(debits.get(command.data.debitReference));
            state = accountDecider.evolve(state, event);
          }
          if (state.status !== 'NONE') {
            expect(state.balance).toBeGreaterThanOrEqual(0);
            expect(state.balance).toBe(expected);
            expect(Number.isSafeInteger(state.balance)).toBe(true);
          }
        }
      }),
    );
  });
});
