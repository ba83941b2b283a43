import { type DomainEvent, schemaVersions } from '../decider';

export const ACCOUNT_STREAM_TYPE = 'account';

/** The account's stream: `account-<accountId>`. */
export const accountStreamId = (accountId: string): string => `${ACCOUNT_STREAM_TYPE}-${accountId}`;

// Events: past tense.

export type AccountOpened = DomainEvent<
  'AccountOpened',
  { accountId: string; ownerId: string; openedAt: string }
>;
export type FundsDeposited = DomainEvent<
  'FundsDeposited',
  { accountId: string; amount: number; reference: string; balanceAfter: number }
>;
export type AccountDebited = DomainEvent<
  'AccountDebited',
  { accountId: string; amount: number; reference: string; balanceAfter: number }
>;
export type AccountCredited = DomainEvent<
  'AccountCredited',
  { accountId: string; amount: number; reference: string; balanceAfter: number }
>;
export type AccountFrozen = DomainEvent<'AccountFrozen', { accountId: string; reason: string }>;
/** A debit was compensated before it happened: a late debit with this reference does nothing. */
export type DebitVoided = DomainEvent<'DebitVoided', { accountId: string; reference: string }>;

export type AccountEvent =
  AccountOpened | FundsDeposited | AccountDebited | AccountCredited | AccountFrozen | DebitVoided;

export const ACCOUNT_EVENT_TYPES = [
  'AccountOpened',
  'FundsDeposited',
  'AccountDebited',
  'AccountCredited',
  'AccountFrozen',
  'DebitVoided',
] as const satisfies readonly AccountEvent['type'][];

export const ACCOUNT_EVENT_SCHEMA_VERSIONS =
  schemaVersions<AccountEvent['type']>(ACCOUNT_EVENT_TYPES);

// State: a union keyed on status. JSON-serializable (it is snapshotted).

/**
 * Statuses of an account that exists, spelled as the read model and the API spell them (and
 * as orders and transfers spell theirs). Before state schema 3 the state said open/frozen.
 */
export const ACCOUNT_STATUSES = ['OPEN', 'FROZEN'] as const;
export type AccountStatus = (typeof ACCOUNT_STATUSES)[number];

export interface NoAccount {
  status: 'NONE';
}

interface ExistingAccount {
  accountId: string;
  ownerId: string;
  openedAt: string;
  /** Minor units; never negative. */
  balance: number;
  /**
   * The money references applied most recently, oldest first, at most the decider's
   * reference window: `<kind>:<reference>` (kind: deposit | debit | credit | void). Keyed per
   * kind so a refund may reuse the reference of the debit it compensates.
   *
   * A bounded window, not every reference ever (one per order on the merchant's account,
   * copied by every command and rewritten by every snapshot). A retried command needs no
   * window: the command handler recognises it forever by its event ids. The window answers
   * the questions one command asks about another: was a late debit voided, was this
   * reference sent before under another command id. Whether the debit a refund compensates
   * happened is not one of them: RefundDebit carries the debit as the stream records it.
   */
  recentReferences: string[];
  /** References that fell out of the window (the events still hold them). */
  forgottenReferences: number;
}

export interface OpenAccountState extends ExistingAccount {
  status: 'OPEN';
}

export interface FrozenAccountState extends ExistingAccount {
  status: 'FROZEN';
  frozenReason: string;
}

export type AccountState = NoAccount | OpenAccountState | FrozenAccountState;

// Every existing account's status is in ACCOUNT_STATUSES, and every listed status has a state.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const statusesListed: Same<Exclude<AccountState['status'], 'NONE'>, AccountStatus> = true;
void statusesListed;

export type MovementKind = 'deposit' | 'debit' | 'credit';
/** Kinds recorded in recentReferences: movements, plus debits voided before they happened. */
export type ReferenceKind = MovementKind | 'void';

export const movementKey = (kind: ReferenceKind, reference: string): string =>
  `${kind}:${reference}`;

export const initialAccountState = (): AccountState => ({ status: 'NONE' });

/**
 * References an account remembers unless told otherwise: 10,000 movements of that account,
 * far more than happen on one account between a saga's steps. Changing it changes what a
 * load builds: bump the account's stateSchemaVersion with it.
 *
 * Retries need no window (event ids). What does is one command asking about another: a
 * late debit after its void arrives within seconds. A transfer's refund may follow its
 * debit much later (the credit retries without limit), so it does not ask the window: the
 * refundDebit activity looks the debit up in the stream and passes it into RefundDebit.
 */
export const DEFAULT_REFERENCE_WINDOW = 10_000;

/** The account fold, remembering the last `referenceWindow` references. */
export function accountEvolver(referenceWindow: number) {
  if (!Number.isSafeInteger(referenceWindow) || referenceWindow < 1)
    throw new Error(`reference window must be a positive integer, got ${referenceWindow}`);

  /** The state's window with `key` added, the oldest dropped when it is full (one copy). */
  const remember = (
    state: OpenAccountState | FrozenAccountState,
    key: string,
  ): Pick<ExistingAccount, 'recentReferences' | 'forgottenReferences'> => {
    const dropped = Math.max(0, state.recentReferences.length + 1 - referenceWindow);
    const recentReferences = state.recentReferences.slice(dropped);
    recentReferences.push(key);
    return { recentReferences, forgottenReferences: state.forgottenReferences + dropped };
  };

  const applyMovement = (
    state: AccountState,
    kind: MovementKind,
    reference: string,
    balanceAfter: number,
  ): AccountState => {
    if (state.status === 'NONE') return state;
    return { ...state, balance: balanceAfter, ...remember(state, movementKey(kind, reference)) };
  };

  return function evolveAccount(state: AccountState, event: AccountEvent): AccountState {
    const { type, data } = event;
    switch (type) {
      case 'AccountOpened':
        if (state.status !== 'NONE') return state;
        return {
          status: 'OPEN',
          accountId: data.accountId,
          ownerId: data.ownerId,
          openedAt: data.openedAt,
          balance: 0,
          recentReferences: [],
          forgottenReferences: 0,
        };
      case 'FundsDeposited':
        return applyMovement(state, 'deposit', data.reference, data.balanceAfter);
      case 'AccountDebited':
        return applyMovement(state, 'debit', data.reference, data.balanceAfter);
      case 'AccountCredited':
        return applyMovement(state, 'credit', data.reference, data.balanceAfter);
      case 'DebitVoided':
        if (state.status === 'NONE') return state;
        return { ...state, ...remember(state, movementKey('void', data.reference)) };
      case 'AccountFrozen':
        if (state.status === 'NONE') return state;
        return { ...state, status: 'FROZEN', frozenReason: data.reason };
      default: {
        const _unknown: never = type;
        return state;
      }
    }
  };
}

export const evolveAccount = accountEvolver(DEFAULT_REFERENCE_WINDOW);
