import {
  Amount,
  Balance,
  EventData,
  Id,
  Instant,
  Text,
  v1Only,
  checkEventTypes,
  type EventSchemaCatalogue,
  type UntypedEvents,
} from '../eventSchemaTypes';
import type { AccountEvent } from './account';

const movement = () =>
  EventData({ accountId: Id(), amount: Amount(), reference: Text(), balanceAfter: Balance() });

/** The current (only) schema of each account event's data. */
const CURRENT = {
  AccountOpened: EventData({ accountId: Id(), ownerId: Id(), openedAt: Instant() }),
  FundsDeposited: movement(),
  AccountDebited: movement(),
  AccountCredited: movement(),
  AccountFrozen: EventData({ accountId: Id(), reason: Text() }),
  DebitVoided: EventData({ accountId: Id(), reference: Text() }),
};
checkEventTypes<UntypedEvents<AccountEvent, typeof CURRENT>>();

/** Every version of every account event's data. */
export const ACCOUNT_EVENT_SCHEMAS: EventSchemaCatalogue<AccountEvent['type']> = {
  AccountOpened: v1Only(CURRENT.AccountOpened),
  FundsDeposited: v1Only(CURRENT.FundsDeposited),
  AccountDebited: v1Only(CURRENT.AccountDebited),
  AccountCredited: v1Only(CURRENT.AccountCredited),
  AccountFrozen: v1Only(CURRENT.AccountFrozen),
  DebitVoided: v1Only(CURRENT.DebitVoided),
};
