import {
  COMMON_REJECTION_CODES,
  type Command,
  type Decision,
  type DomainRejection,
  isPositiveInteger,
  reject,
  unknownCommand,
} from '../decider';
import type { TransferEvent, TransferState, TransferStatus } from './transfer';

/** Why this decider refuses a command (src/api/plugins/errors.ts gives each a status). */
export const TRANSFER_REJECTION_CODES = [
  ...COMMON_REJECTION_CODES,
  'ILLEGAL_TRANSITION',
  'INVALID_AMOUNT',
  'SAME_ACCOUNT',
] as const;
export type TransferRejectionCode = (typeof TRANSFER_REJECTION_CODES)[number];
type TransferDecision = Decision<TransferEvent, TransferRejectionCode>;

// Commands: imperative.

export type RequestTransfer = Command<
  'RequestTransfer',
  { transferId: string; fromAccountId: string; toAccountId: string; amount: number }
>;
export type MarkTransferDebited = Command<'MarkTransferDebited', { transferId: string }>;
export type MarkTransferCredited = Command<'MarkTransferCredited', { transferId: string }>;
export type CompleteTransfer = Command<'CompleteTransfer', { transferId: string }>;
export type FailTransfer = Command<'FailTransfer', { transferId: string; reason: string }>;
export type MarkTransferCompensated = Command<
  'MarkTransferCompensated',
  { transferId: string; reason: string }
>;
export type MarkTransferCompensationFailed = Command<
  'MarkTransferCompensationFailed',
  { transferId: string; reason: string }
>;

export type TransferCommand =
  | RequestTransfer
  | MarkTransferDebited
  | MarkTransferCredited
  | CompleteTransfer
  | FailTransfer
  | MarkTransferCompensated
  | MarkTransferCompensationFailed;

/**
 * REQUESTED -> DEBITED -> CREDITED -> COMPLETED. FailTransfer from REQUESTED or DEBITED;
 * after FAILED: MarkTransferCompensated or MarkTransferCompensationFailed; an operator retry
 * may still mark COMPENSATION_FAILED as COMPENSATED. Repeats decide nothing.
 */
export function decideTransfer(command: TransferCommand, state: TransferState): TransferDecision {
  if (command.type === 'RequestTransfer') {
    const { transferId, fromAccountId, toAccountId, amount } = command.data;
    if (fromAccountId === toAccountId)
      return reject('SAME_ACCOUNT', `Transfer ${transferId}: source and target are the same`, {
        transferId,
        accountId: fromAccountId,
      });
    if (!isPositiveInteger(amount))
      return reject(
        'INVALID_AMOUNT',
        `Amount must be a positive integer in minor units, got ${String(amount)}`,
        { transferId, amount },
      );
    if (state.status !== 'NONE') return [];
    return [
      {
        type: 'TransferRequested',
        data: { transferId, fromAccountId, toAccountId, amount, requestedAt: command.metadata.now },
      },
    ];
  }
  if (state.status === 'NONE') return illegal(state.status, command);
  const { transferId } = state;
  switch (command.type) {
    case 'MarkTransferDebited':
      if (state.debited) return [];
      if (state.status !== 'REQUESTED') return illegal(state.status, command);
      return [{ type: 'TransferDebited', data: { transferId } }];
    case 'MarkTransferCredited':
      if (state.credited) return [];
      if (state.status !== 'DEBITED') return illegal(state.status, command);
      return [{ type: 'TransferCredited', data: { transferId } }];
    case 'CompleteTransfer':
      if (state.status === 'COMPLETED') return [];
      if (state.status !== 'CREDITED') return illegal(state.status, command);
      return [{ type: 'TransferCompleted', data: { transferId } }];
    case 'FailTransfer':
      if (state.status === 'FAILED') return [];
      if (state.status !== 'REQUESTED' && state.status !== 'DEBITED')
        return illegal(state.status, command);
      return [{ type: 'TransferFailed', data: { transferId, reason: command.data.reason } }];
    case 'MarkTransferCompensated':
      if (state.status === 'COMPENSATED') return [];
      if (state.status !== 'FAILED' && state.status !== 'COMPENSATION_FAILED')
        return illegal(state.status, command);
      return [{ type: 'TransferCompensated', data: { transferId, reason: command.data.reason } }];
    case 'MarkTransferCompensationFailed':
      if (state.status === 'COMPENSATION_FAILED') return [];
      if (state.status !== 'FAILED') return illegal(state.status, command);
      return [
        { type: 'TransferCompensationFailed', data: { transferId, reason: command.data.reason } },
      ];
    default:
      return unknownCommand(command);
  }
}

const illegal = (
  from: TransferStatus | 'NONE',
  command: TransferCommand,
): DomainRejection<'ILLEGAL_TRANSITION'> =>
  reject('ILLEGAL_TRANSITION', `Transfer: ${command.type} is not allowed from ${from}`, {
    from,
    command: command.type,
  });
