import {
  COMMON_REJECTION_CODES,
  type Command,
  type Decision,
  isPositiveInteger,
  reject,
  unknownCommand,
} from '../decider';
import {
  type AccountEvent,
  type AccountState,
  type FrozenAccountState,
  type MovementKind,
  type ReferenceKind,
  type OpenAccountState,
  movementKey,
} from './account';

// Commands: imperative.

export type OpenAccount = Command<
  'OpenAccount',
  { accountId: string; ownerId: string; initialDeposit?: number }
>;
export type DepositFunds = Command<
  'DepositFunds',
  { accountId: string; amount: number; reference: string }
>;
export type DebitAccount = Command<
  'DebitAccount',
  { accountId: string; amount: number; reference: string }
>;
export type CreditAccount = Command<
  'CreditAccount',
  { accountId: string; amount: number; reference: string }
>;
/** A debit as the account's stream records it (not as the bounded window remembers it). */
export interface RecordedDebit {
  /** What the debit took, in minor units. */
  amount: number;
}

/**
 * Compensation of a debit: credits back what the debit `debitReference` took, under
 * `refundReference`, but only when that debit was applied (a refund of a debit that never
 * happened voids its reference instead: a late debit then takes nothing).
 *
 * Whether it was applied is `debit`, which the caller looked up in the account's stream (the
 * refundDebit activity: by the debit step's event id): the window of recent references
 * forgets a debit once the account saw `referenceWindow` other movements, and a refund that
 * asked the window would then void a debit that happened and pay nothing back. `amount` must
 * be what the debit took: a disagreement is refused (REFUND_AMOUNT_MISMATCH), never paid.
 * Allowed on a frozen account: it returns money the saga took, it is not a new movement.
 */
export type RefundDebit = Command<
  'RefundDebit',
  {
    accountId: string;
    amount: number;
    debitReference: string;
    refundReference: string;
    /** The debit in the account's stream, null when the stream holds none. */
    debit: RecordedDebit | null;
  }
>;
export type FreezeAccount = Command<'FreezeAccount', { accountId: string; reason: string }>;

export type AccountCommand =
  OpenAccount | DepositFunds | DebitAccount | CreditAccount | RefundDebit | FreezeAccount;

/** Why the account decider refuses a command (src/api/plugins/errors.ts gives each a status). */
export const ACCOUNT_REJECTION_CODES = [
  ...COMMON_REJECTION_CODES,
  'ACCOUNT_ALREADY_EXISTS',
  'ACCOUNT_FROZEN',
  'ACCOUNT_NOT_FOUND',
  'BALANCE_LIMIT_EXCEEDED',
  'INSUFFICIENT_FUNDS',
  'INVALID_AMOUNT',
  'REFUND_AMOUNT_MISMATCH',
  'REFUND_DEBIT_LOOKUP_STALE',
] as const;
export type AccountRejectionCode = (typeof ACCOUNT_REJECTION_CODES)[number];
type AccountDecision = Decision<AccountEvent, AccountRejectionCode>;

/** Reference of the deposit emitted by OpenAccount with an initial deposit. */
export const INITIAL_DEPOSIT_REFERENCE = 'initial-deposit';

export function decideAccount(command: AccountCommand, state: AccountState): AccountDecision {
  switch (command.type) {
    case 'OpenAccount':
      return openAccount(command, state);
    case 'DepositFunds':
      return moveMoney('deposit', command.data, state);
    case 'DebitAccount':
      return moveMoney('debit', command.data, state);
    case 'CreditAccount':
      return moveMoney('credit', command.data, state);
    case 'RefundDebit':
      return refundDebit(command, state);
    case 'FreezeAccount': {
      const { accountId, reason } = command.data;
      if (state.status === 'NONE') return accountNotFound(accountId);
      if (state.status === 'FROZEN') return [];
      return [{ type: 'AccountFrozen', data: { accountId, reason } }];
    }
    default:
      return unknownCommand(command);
  }
}

function openAccount({ data, metadata }: OpenAccount, state: AccountState): AccountDecision {
  const { accountId, ownerId, initialDeposit } = data;
  if (initialDeposit !== undefined && initialDeposit !== 0 && !isPositiveInteger(initialDeposit))
    return invalidAmount(initialDeposit);
  if (state.status !== 'NONE') {
    if (state.ownerId === ownerId) return [];
    return reject('ACCOUNT_ALREADY_EXISTS', `Account ${accountId} already exists`, {
      accountId,
      ownerId: state.ownerId,
    });
  }
  const events: AccountEvent[] = [
    { type: 'AccountOpened', data: { accountId, ownerId, openedAt: metadata.now } },
  ];
  if (initialDeposit !== undefined && initialDeposit > 0)
    events.push({
      type: 'FundsDeposited',
      data: {
        accountId,
        amount: initialDeposit,
        reference: INITIAL_DEPOSIT_REFERENCE,
        balanceAfter: initialDeposit,
      },
    });
  return events;
}

const MOVEMENT_EVENT = {
  deposit: 'FundsDeposited',
  debit: 'AccountDebited',
  credit: 'AccountCredited',
} as const satisfies Record<MovementKind, AccountEvent['type']>;

function moveMoney(
  kind: MovementKind,
  data: { accountId: string; amount: number; reference: string },
  state: AccountState,
): AccountDecision {
  const { accountId, amount, reference } = data;
  if (!isPositiveInteger(amount)) return invalidAmount(amount);
  if (state.status === 'NONE') return accountNotFound(accountId);
  // A retry of a movement that already committed: its effect is there, do nothing.
  if (alreadyApplied(state, kind, reference)) return [];
  // A debit whose saga already compensated it (see refundDebit): too late, do nothing.
  if (kind === 'debit' && alreadyApplied(state, 'void', reference)) return [];
  if (state.status === 'FROZEN')
    return reject('ACCOUNT_FROZEN', `Account ${accountId} is frozen: ${state.frozenReason}`, {
      accountId,
      reason: state.frozenReason,
    });
  const balanceAfter = kind === 'debit' ? state.balance - amount : state.balance + amount;
  if (balanceAfter < 0)
    return reject(
      'INSUFFICIENT_FUNDS',
      `Account ${accountId}: balance ${state.balance} < ${amount}`,
      { accountId, requested: amount, available: state.balance },
    );
  if (!Number.isSafeInteger(balanceAfter)) return balanceLimit(accountId, amount, state.balance);
  return [{ type: MOVEMENT_EVENT[kind], data: { accountId, amount, reference, balanceAfter } }];
}

function refundDebit({ data }: RefundDebit, state: AccountState): AccountDecision {
  const { accountId, amount, debitReference, refundReference, debit } = data;
  if (!isPositiveInteger(amount)) return invalidAmount(amount);
  if (state.status === 'NONE') return [];
  if (debit === null) {
    // The caller found no debit, yet the state holds one: it committed after the lookup (a
    // timed-out attempt that was still running). Neither void it nor pay an unchecked amount.
    if (alreadyApplied(state, 'debit', debitReference))
      return reject(
        'REFUND_DEBIT_LOOKUP_STALE',
        `Account ${accountId}: debit ${debitReference} was applied after the refund looked it up; look again`,
        { accountId, debitReference },
      );
    // The debit never happened (yet): void its reference, so a debit that arrives late
    // (a timed-out attempt still running) takes nothing.
    if (alreadyApplied(state, 'void', debitReference)) return [];
    return [{ type: 'DebitVoided', data: { accountId, reference: debitReference } }];
  }
  if (amount !== debit.amount)
    return reject(
      'REFUND_AMOUNT_MISMATCH',
      `Account ${accountId}: refund of ${amount} for debit ${debitReference}, which took ${debit.amount}`,
      { accountId, debitReference, requested: amount, debited: debit.amount },
    );
  if (alreadyApplied(state, 'credit', refundReference)) return [];
  const balanceAfter = state.balance + debit.amount;
  if (!Number.isSafeInteger(balanceAfter))
    return balanceLimit(accountId, debit.amount, state.balance);
  return [
    {
      type: 'AccountCredited',
      data: { accountId, amount: debit.amount, reference: refundReference, balanceAfter },
    },
  ];
}

const alreadyApplied = (
  state: OpenAccountState | FrozenAccountState,
  kind: ReferenceKind,
  reference: string,
): boolean => state.recentReferences.includes(movementKey(kind, reference));

/** A valid amount the balance cannot take (beyond 2^53 - 1): a conflict with the state, 409. */
const balanceLimit = (accountId: string, amount: number, balance: number) =>
  reject(
    'BALANCE_LIMIT_EXCEEDED',
    `Account ${accountId}: balance ${balance} + ${amount} is beyond what an account holds`,
    { accountId, amount, balance },
  );

const accountNotFound = (accountId: string) =>
  reject('ACCOUNT_NOT_FOUND', `Account ${accountId} does not exist`, { accountId });

const invalidAmount = (amount: unknown) =>
  reject(
    'INVALID_AMOUNT',
    `Amount must be a positive integer in minor units, got ${String(amount)}`,
    {
      amount,
    },
  );
