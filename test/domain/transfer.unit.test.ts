import {
  TRANSFER_STATUSES,
  type TransferCommand,
  type TransferEvent,
  transferDecider,
} from '../../src/domain/transfer';
import { DeciderSpecification } from '../support/deciderSpec';

const now = '2025-01-02T03:04:05.000Z';
const metadata = { now };
const transferId = 't-1';
const spec = DeciderSpecification.for(transferDecider);

const request = (amount = 500, toAccountId = 'acc-2'): TransferCommand => ({
  type: 'RequestTransfer',
  data: { transferId, fromAccountId: 'acc-1', toAccountId, amount },
  metadata,
});
const cmd = {
  debited: { type: 'MarkTransferDebited', data: { transferId }, metadata },
  credited: { type: 'MarkTransferCredited', data: { transferId }, metadata },
  complete: { type: 'CompleteTransfer', data: { transferId }, metadata },
  fail: { type: 'FailTransfer', data: { transferId, reason: 'credit rejected' }, metadata },
  compensated: {
    type: 'MarkTransferCompensated',
    data: { transferId, reason: 'refunded' },
    metadata,
  },
  compensationFailed: {
    type: 'MarkTransferCompensationFailed',
    data: { transferId, reason: 'refund failed' },
    metadata,
  },
} satisfies Record<string, TransferCommand>;

const ev = {
  requested: {
    type: 'TransferRequested',
    data: {
      transferId,
      fromAccountId: 'acc-1',
      toAccountId: 'acc-2',
      amount: 500,
      requestedAt: now,
    },
  },
  debited: { type: 'TransferDebited', data: { transferId } },
  credited: { type: 'TransferCredited', data: { transferId } },
  completed: { type: 'TransferCompleted', data: { transferId } },
  failed: { type: 'TransferFailed', data: { transferId, reason: 'credit rejected' } },
  compensated: { type: 'TransferCompensated', data: { transferId, reason: 'refunded' } },
  compensationFailed: {
    type: 'TransferCompensationFailed',
    data: { transferId, reason: 'refund failed' },
  },
} satisfies Record<string, TransferEvent>;

const at = {
  REQUESTED: [ev.requested],
  DEBITED: [ev.requested, ev.debited],
  CREDITED: [ev.requested, ev.debited, ev.credited],
  COMPLETED: [ev.requested, ev.debited, ev.credited, ev.completed],
  FAILED: [ev.requested, ev.debited, ev.failed],
  COMPENSATED: [ev.requested, ev.debited, ev.failed, ev.compensated],
  COMPENSATION_FAILED: [ev.requested, ev.debited, ev.failed, ev.compensationFailed],
} satisfies Record<(typeof TRANSFER_STATUSES)[number], TransferEvent[]>;

describe('Transfer decider', () => {
  it('exports its statuses and uses transfer-<id> streams', () => {
    expect(TRANSFER_STATUSES).toEqual(Object.keys(at));
    expect(transferDecider.streamType).toBe('transfer');
    expect(transferDecider.streamId(transferId)).toBe('transfer-t-1');
  });

  it('reaches every status with its history', () => {
    for (const [status, history] of Object.entries(at))
      expect(history.reduce(transferDecider.evolve, transferDecider.initialState()).status).toBe(
        status,
      );
  });

  describe('RequestTransfer', () => {
    it('requests with the command time', () => {
      spec.when(request()).then([ev.requested]);
    });
    it('is idempotent', () => {
      spec.given(at.REQUESTED).when(request()).thenNothing();
      spec.given(at.COMPLETED).when(request()).thenNothing();
    });
    it('rejects the same account on both sides', () => {
      spec.when(request(500, 'acc-1')).thenRejects('SAME_ACCOUNT');
    });
    it.each([0, -1, 1.5])('rejects amount %p', (amount) => {
      spec.when(request(amount)).thenRejects('INVALID_AMOUNT');
    });
  });

  it('walks the happy path', () => {
    spec.given(at.REQUESTED).when(cmd.debited).then([ev.debited]);
    spec.given(at.DEBITED).when(cmd.credited).then([ev.credited]);
    spec.given(at.CREDITED).when(cmd.complete).then([ev.completed]);
  });

  it('walks the failure paths', () => {
    spec.given(at.REQUESTED).when(cmd.fail).then([ev.failed]);
    spec.given(at.DEBITED).when(cmd.fail).then([ev.failed]);
    spec.given(at.FAILED).when(cmd.compensated).then([ev.compensated]);
    spec.given(at.FAILED).when(cmd.compensationFailed).then([ev.compensationFailed]);
    spec.given(at.COMPENSATION_FAILED).when(cmd.compensated).then([ev.compensated]);
  });

  it.each([
    ['debited', ['DEBITED', 'CREDITED', 'COMPLETED', 'FAILED', 'COMPENSATED']],
    ['credited', ['CREDITED', 'COMPLETED']],
    ['complete', ['COMPLETED']],
    ['fail', ['FAILED']],
    ['compensated', ['COMPENSATED']],
    ['compensationFailed', ['COMPENSATION_FAILED']],
  ] as const)('repeating %s is a no-op at %p', (command, statuses) => {
    for (const status of statuses) spec.given(at[status]).when(cmd[command]).thenNothing();
  });

  it.each([
    ['debited', 'NONE'],
    ['credited', 'REQUESTED'],
    ['complete', 'DEBITED'],
    ['fail', 'CREDITED'],
    ['fail', 'COMPLETED'],
    ['compensated', 'DEBITED'],
    ['compensationFailed', 'COMPENSATED'],
    ['credited', 'FAILED'],
  ] as const)('rejects %s from %s', (command, status) => {
    spec
      .given(status === 'NONE' ? [] : at[status])
      .when(cmd[command])
      .thenRejects('ILLEGAL_TRANSITION', { from: status, command: cmd[command].type });
  });
});
