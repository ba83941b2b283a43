import { log, patched, setHandler } from '@temporalio/workflow';
import type { SagaActivities } from '../activities';
import {
  transferCreditReference,
  transferDebitReference,
  transferRefundReference,
} from '../src/domain/transfer/transfer';
import { CompensationStack } from './compensations';
import { sagaStepStubs } from './correlated';
import {
  retryCompensationSignal,
  retryStepSignal,
  statusQuery,
  type MoneyTransferInput,
  type SagaResult,
  type TransferSagaStatus,
} from './definitions';
import { failureReason, SagaAbort } from './failures';
import { ForwardSteps } from './forwardSteps';
import { SagaState } from './sagaState';
import { shieldedFromTemporalCancel, TEMPORAL_CANCEL_REASON } from './temporalCancellation';

/**
 * A refund that parked and was then retried used to leave the transfer COMPENSATION_FAILED
 * after a rejected debit; runs with this patch record the finished compensation instead.
 */
export const RECORD_RETRIED_REFUND_PATCH = 'transfer-record-retried-refund';

/**
 * Debit the source (compensatable: refund), credit the destination (the pivot), complete.
 * A rejected debit fails the transfer with nothing to undo; a rejected credit (e.g. a frozen
 * destination) refunds the source. A cancellation requested from Temporal before the credit
 * ends the transfer the same way (reason CANCELLED); once the credit started, it is refused
 * and the transfer completes. A rejected step after the debit parks it (retryStep).
 */
export async function moneyTransfer(input: MoneyTransferInput): Promise<SagaResult> {
  const { transferId } = input;
  const { steps, forward, undo, pivot } = sagaStepStubs(input.settings, input.correlationId);

  const saga = new SagaState<TransferSagaStatus>('moneyTransfer', transferId, 'REQUESTED');
  const compensations = new CompensationStack(saga);
  setHandler(statusQuery, () => saga.view);
  setHandler(retryCompensationSignal, () => compensations.requestRetry());
  const forwardSteps = new ForwardSteps(saga);
  setHandler(retryStepSignal, () => forwardSteps.requestRetry());

  const transferStep = (
    name: string,
    command: Parameters<SagaActivities['applyTransferCommand']>[0]['command'],
  ) => forwardSteps.run(name, () => forward.applyTransferCommand({ transferId, command }));

  const cancellation = { requested: false, creditStarted: false };
  const onTemporalCancel = () => {
    if (!cancellation.creditStarted) {
      cancellation.requested = true;
      return;
    }
    saga.view.cancelRefusedReason = `transfer ${transferId}: the credit of the destination started, so it can no longer be cancelled`;
    saga.publish();
    log.warn('cancellation requested from Temporal refused: the transfer finishes forward', {
      transferId,
    });
  };

  saga.publish();
  return shieldedFromTemporalCancel(onTemporalCancel, () =>
    transferMoney(input, { saga, steps, undo, pivot, compensations, transferStep, cancellation }),
  );
}

interface TransferSteps {
  saga: SagaState<TransferSagaStatus>;
  steps: SagaActivities;
  undo: SagaActivities;
  pivot: SagaActivities;
  compensations: CompensationStack;
  transferStep: (
    name: string,
    command: Parameters<SagaActivities['applyTransferCommand']>[0]['command'],
  ) => Promise<unknown>;
  /** Set by a cancellation requested from Temporal; the credit refuses it once started. */
  cancellation: { requested: boolean; creditStarted: boolean };
}

/** The transfer's steps, which moneyTransfer runs shielded from Temporal cancellation. */
async function transferMoney(
  input: MoneyTransferInput,
  { saga, steps, undo, pivot, compensations, transferStep, cancellation }: TransferSteps,
): Promise<SagaResult> {
  const { transferId } = input;
  const abortIfCancelled = () => {
    if (cancellation.requested) throw new SagaAbort(`CANCELLED: ${TEMPORAL_CANCEL_REASON}`);
  };
  await saga.step('request transfer', () =>
    steps.applyTransferCommand({
      transferId,
      command: {
        type: 'RequestTransfer',
        fromAccountId: input.fromAccountId,
        toAccountId: input.toAccountId,
        amount: input.amount,
      },
    }),
  );

  let compensationParked = false;
  const compensate = (reason: string) =>
    compensations.unwind(reason, async (name) => {
      compensationParked = true;
      await undo
        .applyTransferCommand({
          transferId,
          command: { type: 'MarkTransferCompensationFailed', reason: `${name} failed` },
        })
        .catch(() => undefined);
    });

  const debitReference = transferDebitReference(transferId);
  try {
    // Registered first: a debit can time out after it committed. The refund pays back only
    // a debit that happened, so for a rejected debit it does nothing.
    compensations.register('refund source', () =>
      undo.refundDebit({
        accountId: input.fromAccountId,
        amount: input.amount,
        debitReference,
        refundReference: transferRefundReference(transferId),
      }),
    );
    abortIfCancelled();
    await saga.step('debit source', () =>
      steps.debitAccount({
        accountId: input.fromAccountId,
        amount: input.amount,
        reference: debitReference,
      }),
    );
  } catch (error) {
    const reason = failureReason(error);
    saga.view.failureReason = reason;
    await transferStep('fail transfer', { type: 'FailTransfer', reason });
    await compensate(reason);
    // The park recorded COMPENSATION_FAILED; the aggregate has no way back to FAILED, so a
    // finished retry is recorded as COMPENSATED, and the saga reports the same.
    if (compensationParked && patched(RECORD_RETRIED_REFUND_PATCH)) {
      await transferStep('mark compensated', { type: 'MarkTransferCompensated', reason });
      saga.finish('COMPENSATED', 'COMPENSATED', reason);
      return { outcome: 'COMPENSATED', status: 'COMPENSATED', reason };
    }
    saga.finish('FAILED', 'FAILED', reason);
    return { outcome: 'FAILED', status: 'FAILED', reason };
  }
  await transferStep('mark debited', { type: 'MarkTransferDebited' });
  saga.setStatus('DEBITED');

  try {
    abortIfCancelled();
    cancellation.creditStarted = true; // the pivot: from here a cancellation is refused
    await saga.step('credit destination', () =>
      pivot.creditAccount({
        accountId: input.toAccountId,
        amount: input.amount,
        reference: transferCreditReference(transferId),
      }),
    );
  } catch (error) {
    const reason = failureReason(error);
    log.info('transfer compensating', { transferId, reason });
    saga.view.failureReason = reason;
    saga.setStatus('COMPENSATING');
    await transferStep('fail transfer', { type: 'FailTransfer', reason });
    await compensate(reason);
    await transferStep('mark compensated', { type: 'MarkTransferCompensated', reason });
    saga.finish('COMPENSATED', 'COMPENSATED', reason);
    return { outcome: 'COMPENSATED', status: 'COMPENSATED', reason };
  }
  await transferStep('mark credited', { type: 'MarkTransferCredited' });
  await transferStep('complete transfer', { type: 'CompleteTransfer' });
  saga.finish('COMPLETED', 'COMPLETED', null);
  return { outcome: 'COMPLETED', status: 'COMPLETED', reason: null };
}
