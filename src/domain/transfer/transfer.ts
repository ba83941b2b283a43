import { type DomainEvent, schemaVersions } from '../decider';

export const TRANSFER_STREAM_TYPE = 'transfer';

// Ids: the transfer's stream, and the references its saga moves money under on accounts.
// They are in recorded events and saga histories: the strings never change.

/** The transfer's stream: `transfer-<transferId>`. */
export const transferStreamId = (transferId: string): string =>
  `${TRANSFER_STREAM_TYPE}-${transferId}`;
/** The debit of the source account. */
export const transferDebitReference = (transferId: string): string =>
  `${transferStreamId(transferId)}/debit`;
/** The credit of the target account. */
export const transferCreditReference = (transferId: string): string =>
  `${transferStreamId(transferId)}/credit`;
/** The refund of the debit, on the source account. */
export const transferRefundReference = (transferId: string): string =>
  `${transferStreamId(transferId)}/refund`;

export const TRANSFER_STATUSES = [
  'REQUESTED',
  'DEBITED',
  'CREDITED',
  'COMPLETED',
  'FAILED',
  'COMPENSATED',
  'COMPENSATION_FAILED',
] as const;
export type TransferStatus = (typeof TRANSFER_STATUSES)[number];

// Events: past tense, each carrying transferId.

export type TransferRequested = DomainEvent<
  'TransferRequested',
  {
    transferId: string;
    fromAccountId: string;
    toAccountId: string;
    /** Minor units. */
    amount: number;
    requestedAt: string;
  }
>;
export type TransferDebited = DomainEvent<'TransferDebited', { transferId: string }>;
export type TransferCredited = DomainEvent<'TransferCredited', { transferId: string }>;
export type TransferCompleted = DomainEvent<'TransferCompleted', { transferId: string }>;
export type TransferFailed = DomainEvent<'TransferFailed', { transferId: string; reason: string }>;
export type TransferCompensated = DomainEvent<
  'TransferCompensated',
  { transferId: string; reason: string }
>;
export type TransferCompensationFailed = DomainEvent<
  'TransferCompensationFailed',
  { transferId: string; reason: string }
>;

export type TransferEvent =
  | TransferRequested
  | TransferDebited
  | TransferCredited
  | TransferCompleted
  | TransferFailed
  | TransferCompensated
  | TransferCompensationFailed;

export const TRANSFER_EVENT_TYPES = [
  'TransferRequested',
  'TransferDebited',
  'TransferCredited',
  'TransferCompleted',
  'TransferFailed',
  'TransferCompensated',
  'TransferCompensationFailed',
] as const satisfies readonly TransferEvent['type'][];

export const TRANSFER_EVENT_SCHEMA_VERSIONS =
  schemaVersions<TransferEvent['type']>(TRANSFER_EVENT_TYPES);

// State: a union keyed on status; milestone flags keep repeats no-ops.

export interface NoTransfer {
  status: 'NONE';
}

export interface RequestedTransfer {
  status: TransferStatus;
  transferId: string;
  fromAccountId: string;
  toAccountId: string;
  amount: number;
  requestedAt: string;
  debited: boolean;
  credited: boolean;
  failureReason?: string;
  compensationReason?: string;
}

export type TransferState = NoTransfer | RequestedTransfer;

export const initialTransferState = (): TransferState => ({ status: 'NONE' });

export function evolveTransfer(state: TransferState, event: TransferEvent): TransferState {
  if (event.type === 'TransferRequested') {
    if (state.status !== 'NONE') return state;
    return { status: 'REQUESTED', ...event.data, debited: false, credited: false };
  }
  if (state.status === 'NONE') return state;
  const { type, data } = event;
  switch (type) {
    case 'TransferDebited':
      return { ...state, status: 'DEBITED', debited: true };
    case 'TransferCredited':
      return { ...state, status: 'CREDITED', credited: true };
    case 'TransferCompleted':
      return { ...state, status: 'COMPLETED' };
    case 'TransferFailed':
      return { ...state, status: 'FAILED', failureReason: data.reason };
    case 'TransferCompensated':
      return { ...state, status: 'COMPENSATED', compensationReason: data.reason };
    case 'TransferCompensationFailed':
      return { ...state, status: 'COMPENSATION_FAILED', compensationReason: data.reason };
    default: {
      const _unknown: never = type;
      return state;
    }
  }
}
