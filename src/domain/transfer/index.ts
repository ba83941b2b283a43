import type { Decider } from '../decider';
import { type TransferCommand, decideTransfer } from './businessLogic';
import {
  TRANSFER_EVENT_SCHEMA_VERSIONS,
  TRANSFER_STREAM_TYPE,
  transferStreamId,
  type TransferEvent,
  type TransferState,
  evolveTransfer,
  initialTransferState,
} from './transfer';

export * from './businessLogic';
export * from './transfer';

export const transferDecider: Decider<TransferState, TransferCommand, TransferEvent> = {
  streamType: TRANSFER_STREAM_TYPE,
  streamId: transferStreamId,
  initialState: initialTransferState,
  evolve: evolveTransfer,
  decide: decideTransfer,
  eventSchemaVersions: TRANSFER_EVENT_SCHEMA_VERSIONS,
};
