import { type DomainEvent, schemaVersions } from '../decider';

export const ACCOUNT_STREAM_TYPE = 'account';

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

export const ACCOUNT_STATUSES = ['none', 'open', 'frozen'] as const;
export type AccountStatus = (typeof ACCOUNT_STATUSES)[number];

export interface NoAccount {
  status: 'none';
}

interface ExistingAccount {
  accountId: string;
  ownerId: string;
  openedAt: string;
  /** Minor units; never negative. */
  balance: number;
  /**
   * Money movements already applied, as `<kind>:<reference>` (kind: deposit | debit | credit).
   * Keyed per kind so a refund may reuse the reference of the debit it compensates.
   */
  appliedReferences: string[];
}

export interface OpenAccountState extends ExistingAccount {
  status: 'open';
}

export interface FrozenAccountState extends ExistingAccount {
  status: 'frozen';
  frozenReason: string;
}

export type AccountState = NoAccount | OpenAccountState | FrozenAccountState;

export type MovementKind = 'deposit' | 'debit' | 'credit';
/** Kinds recorded in appliedReferences: movements, plus debits voided before they happened. */
export type ReferenceKind = MovementKind | 'void';

export const movementKey = (kind: ReferenceKind, reference: string): string =>
  `${kind}:${reference}`;

export const initialAccountState = (): AccountState => ({ status: 'none' });

export function evolveAccount(state: AccountState, event: AccountEvent): AccountState {
  const { type, data } = event;
  switch (type) {
    case 'AccountOpened':
      if (state.status !== 'none') return state;
      return {
        status: 'open',
        accountId: data.accountId,
        ownerId: data.ownerId,
        openedAt: data.openedAt,
        balance: 0,
        appliedReferences: [],
      };
    case 'FundsDeposited':
      return applyMovement(state, 'deposit', data.reference, data.balanceAfter);
    case 'AccountDebited':
      return applyMovement(state, 'debit', data.reference, data.balanceAfter);
    case 'AccountCredited':
      return applyMovement(state, 'credit', data.reference, data.balanceAfter);
    case 'DebitVoided':
      if (state.status === 'none') return state;
      return {
        ...state,
        appliedReferences: [...state.appliedReferences, movementKey('void', data.reference)],
      };
    case 'AccountFrozen':
      if (state.status === 'none') return state;
      return { ...state, status: 'frozen', frozenReason: data.reason };
    default: {
      const _unknown: never = type;
      return state;
    }
  }
}

function applyMovement(
  state: AccountState,
  kind: MovementKind,
  reference: string,
  balanceAfter: number,
): AccountState {
  if (state.status === 'none') return state;
  return {
    ...state,
    balance: balanceAfter,
    appliedReferences: [...state.appliedReferences, movementKey(kind, reference)],
  };
}
