import {
  Amount,
  EventData,
  Id,
  Instant,
  Text,
  v1Only,
  type EventSchemaCatalogue,
} from '../eventSchemaTypes';
import type { TransferEvent } from './transfer';

const withReason = () => EventData({ transferId: Id(), reason: Text() });

/** Every version of every transfer event's data. */
export const TRANSFER_EVENT_SCHEMAS: EventSchemaCatalogue<TransferEvent['type']> = {
  TransferRequested: v1Only(
    EventData({
      transferId: Id(),
      fromAccountId: Id(),
      toAccountId: Id(),
      amount: Amount(),
      requestedAt: Instant(),
    }),
  ),
  TransferDebited: v1Only(EventData({ transferId: Id() })),
  TransferCredited: v1Only(EventData({ transferId: Id() })),
  TransferCompleted: v1Only(EventData({ transferId: Id() })),
  TransferFailed: v1Only(withReason()),
  TransferCompensated: v1Only(withReason()),
  TransferCompensationFailed: v1Only(withReason()),
};
