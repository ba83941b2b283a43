import {
  Amount,
  checkEventTypes,
  EventData,
  Id,
  Instant,
  Text,
  v1Only,
  type EventSchemaCatalogue,
  type UntypedEvents,
} from '../eventSchemaTypes';
import type { TransferEvent } from './transfer';

const withReason = () => EventData({ transferId: Id(), reason: Text() });

/** The current (only) schema of each transfer event's data. */
const CURRENT = {
  TransferRequested: EventData({
    transferId: Id(),
    fromAccountId: Id(),
    toAccountId: Id(),
    amount: Amount(),
    requestedAt: Instant(),
  }),
  TransferDebited: EventData({ transferId: Id() }),
  TransferCredited: EventData({ transferId: Id() }),
  TransferCompleted: EventData({ transferId: Id() }),
  TransferFailed: withReason(),
  TransferCompensated: withReason(),
  TransferCompensationFailed: withReason(),
};
checkEventTypes<UntypedEvents<TransferEvent, typeof CURRENT>>();

/** Every version of every transfer event's data. */
export const TRANSFER_EVENT_SCHEMAS: EventSchemaCatalogue<TransferEvent['type']> = {
  TransferRequested: v1Only(CURRENT.TransferRequested),
  TransferDebited: v1Only(CURRENT.TransferDebited),
  TransferCredited: v1Only(CURRENT.TransferCredited),
  TransferCompleted: v1Only(CURRENT.TransferCompleted),
  TransferFailed: v1Only(CURRENT.TransferFailed),
  TransferCompensated: v1Only(CURRENT.TransferCompensated),
  TransferCompensationFailed: v1Only(CURRENT.TransferCompensationFailed),
};
