import { condition, log, setHandler, type ActivityOptions } from '@temporalio/workflow';
import type { SagaActivities } from '../activities';
import { compensationOptions, forwardOptions, pivotOptions, stepOptions } from './activityOptions';
import { CompensationStack } from './compensations';
import { correlatedActivities } from './correlated';
import {
  approveSignal,
  cancelSignal,
  cancelUpdate,
  ORDER_SAGA_MILESTONES,
  retryCompensationSignal,
  statusQuery,
  type OrderFulfillmentInput,
  type OrderSagaStatus,
  type SagaResult,
} from './definitions';
import { businessReason, SagaAbort } from './failures';
import { SagaState } from './sagaState';

/**
 * Reserve stock → book shipment → (approval) → charge the customer (the pivot) →
 * credit revenue → dispatch → commit stock → complete.
 * Before the pivot, a business rejection or a cancel undoes what was done, in reverse.
 * After it, every step only retries forward.
 */
export async function orderFulfillment(input: OrderFulfillmentInput): Promise<SagaResult> {
  const { orderId } = input;
  const activitiesWith = (options: ActivityOptions) =>
    correlatedActivities(options, input.correlationId);
  const steps = activitiesWith(stepOptions(input.settings));
  const forward = activitiesWith(forwardOptions(input.settings));
  const undo = activitiesWith(compensationOptions(input.settings));
  const pivot = activitiesWith(pivotOptions(input.settings));

  const saga = new SagaState<OrderSagaStatus>(
    'orderFulfillment',
    orderId,
    'PLACED',
    ORDER_SAGA_MILESTONES,
  );
  const compensations = new CompensationStack(saga);
  let pivotReached = false;
  let approved = false;
  let cancelReason: string | undefined;

  const cancelRefusal = () =>
    `order ${orderId} is ${saga.status}: the payment was taken, so it can no longer be cancelled`;
  const refuseCancel = () => {
    saga.view.cancelRefusedReason = cancelRefusal();
    saga.publish();
  };

  setHandler(statusQuery, () => saga.view);
  setHandler(approveSignal, () => {
    approved = true;
  });
  setHandler(cancelSignal, (args) => {
    if (pivotReached) refuseCancel();
    else cancelReason ??= args?.reason ?? 'cancelled on request';
  });
  setHandler(
    cancelUpdate,
    (args: { reason?: string }) => {
      cancelReason ??= args.reason ?? 'cancelled on request';
      return Promise.resolve({ accepted: true as const });
    },
    {
      // Validators must not change state: a rejected update leaves no trace in history, so
      // a change made here would vanish on replay. The caller gets the reason instead.
      validator: (_args: { reason?: string }) => {
        if (pivotReached) throw new Error(cancelRefusal());
      },
    },
  );
  setHandler(retryCompensationSignal, () => compensations.requestRetry());

  const abortIfCancelled = () => {
    if (cancelReason) throw new SagaAbort(`CANCELLED: ${cancelReason}`);
  };
  const orderStep = (
    name: string,
    command: Parameters<SagaActivities['applyOrderCommand']>[0]['command'],
  ) => saga.step(name, () => steps.applyOrderCommand({ orderId, command }));

  saga.publish();
  try {
    for (const line of input.lines) {
      compensations.register(`release stock ${line.sku}`, () =>
        undo.releaseStock({ orderId, sku: line.sku }),
      );
      abortIfCancelled();
      await saga.step(`reserve stock ${line.sku}`, () =>
        steps.reserveStock({ orderId, sku: line.sku, quantity: line.quantity }),
      );
    }
    await orderStep('mark stock reserved', { type: 'MarkStockReserved' });
    saga.setStatus('STOCK_RESERVED');

    compensations.register('cancel shipment', () =>
      undo.cancelShipment({ orderId, reason: 'order cancelled' }),
    );
    abortIfCancelled();
    const { shipmentId } = await saga.step('book shipment', () => steps.bookShipment({ orderId }));
    await orderStep('mark shipment booked', { type: 'MarkShipmentBooked', shipmentId });
    saga.setStatus('SHIPMENT_BOOKED');

    if (input.total >= input.approvalThreshold) {
      abortIfCancelled();
      await orderStep('request approval', { type: 'RequestApproval' });
      saga.setStatus('AWAITING_APPROVAL');
      const decided = await condition(
        () => approved || cancelReason !== undefined,
        input.approvalTimeout,
      );
      abortIfCancelled();
      if (!decided)
        throw new SagaAbort(`APPROVAL_TIMED_OUT: no approval within ${input.approvalTimeout}`);
      await orderStep('approve', { type: 'ApproveOrder' });
    }

    // The pivot: once the customer is charged, the order only moves forward.
    abortIfCancelled();
    pivotReached = true;
    // A charge can time out after it committed: the refund only pays back a debit that happened.
    compensations.register('refund payment', () =>
      undo.refundDebit({
        accountId: input.paymentAccountId,
        amount: input.total,
        debitReference: `order-${orderId}/payment`,
        refundReference: `order-${orderId}/refund`,
      }),
    );
    await saga.step('charge customer', () =>
      pivot.debitAccount({
        accountId: input.paymentAccountId,
        amount: input.total,
        reference: `order-${orderId}/payment`,
      }),
    );
  } catch (error) {
    const reason =
      error instanceof SagaAbort
        ? error.reason
        : (businessReason(error) ?? `STEP_FAILED: ${(error as Error).message}`);
    log.info('order saga compensating', { orderId, reason });
    saga.view.failureReason = reason;
    saga.setStatus('COMPENSATING');
    await compensations.unwind(reason, async (name, failure) => {
      log.error('order compensation keeps failing', {
        orderId,
        compensation: name,
        error: String(failure),
      });
      await undo
        .applyOrderCommand({
          orderId,
          command: { type: 'MarkCompensationFailed', reason: `${name} failed` },
        })
        .catch(() => undefined);
    });
    await saga.step('cancel order', () =>
      forward.applyOrderCommand({ orderId, command: { type: 'CancelOrder', reason } }),
    );
    saga.finish('CANCELLED', 'CANCELLED', reason);
    return { outcome: 'CANCELLED', status: 'CANCELLED', reason };
  }

  await saga.step('mark paid', () =>
    forward.applyOrderCommand({ orderId, command: { type: 'MarkPaid', amount: input.total } }),
  );
  saga.setStatus('PAID');
  await saga.step('credit revenue', () =>
    forward.creditAccount({
      accountId: input.merchantAccountId,
      amount: input.total,
      reference: `order-${orderId}/revenue`,
    }),
  );
  await saga.step('dispatch shipment', () => forward.dispatchShipment({ orderId }));
  for (const line of input.lines) {
    await saga.step(`commit stock ${line.sku}`, () =>
      forward.commitStock({ orderId, sku: line.sku }),
    );
  }
  await saga.step('mark dispatched', () =>
    forward.applyOrderCommand({ orderId, command: { type: 'MarkDispatched' } }),
  );
  saga.setStatus('DISPATCHED');
  await saga.step('complete order', () =>
    forward.applyOrderCommand({ orderId, command: { type: 'CompleteOrder' } }),
  );
  saga.finish('COMPLETED', 'COMPLETED', null);
  return { outcome: 'COMPLETED', status: 'COMPLETED', reason: null };
}
