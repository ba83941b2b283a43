import {
  Amount,
  Balance,
  EventData,
  Id,
  Instant,
  Text,
  v1Only,
  type EventSchemaCatalogue,
} from '../eventSchemaTypes';
import type { AccountEvent } from './account';

const movement = () =>
  EventData({ accountId: Id(), amount: Amount(), reference: Text(), balanceAfter: Balance() });

/** Every version of every account event's data. */
export const ACCOUNT_EVENT_SCHEMAS: EventSchemaCatalogue<AccountEvent['type']> = {
  AccountOpened: v1Only(EventData({ accountId: Id(), ownerId: Id(), openedAt: Instant() })),
  FundsDeposited: v1Only(movement()),
  AccountDebited: v1Only(movement()),
  AccountCredited: v1Only(movement()),
  AccountFrozen: v1Only(EventData({ accountId: Id(), reason: Text() })),
  DebitVoided: v1Only(EventData({ accountId: Id(), reference: Text() })),
};
