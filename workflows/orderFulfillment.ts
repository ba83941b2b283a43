import { ApplicationFailure, condition, log, patched, setHandler } from '@temporalio/workflow';
import type { SagaActivities } from '../activities';
import {
  type OrderItem,
  orderPaymentReference,
  orderRefundReference,
  orderRevenueReference,
} from '../src/domain/order/order';
import { CompensationStack } from './compensations';
import { sagaStepStubs } from './correlated';
import {
  approveSignal,
  assertCancelRequestShape,
  cancelReasonOf,
  cancelSignal,
  cancelUpdate,
  ORDER_SAGA_MILESTONES,
  principalIdOf,
  retryCompensationSignal,
  retryStepSignal,
  statusQuery,
  type CancelRequest,
  type OrderFulfillmentInput,
  type OrderSagaStatus,
  type SagaResult,
} from './definitions';
import {
  AWAIT_DELIVERY_PATCH,
  DeliveryInbox,
  FALLBACK_DELIVERY_TIMEOUT,
  shipmentDeliveredSignal,
} from './delivery';
import { failureReason, SagaAbort } from './failures';
import { ForwardSteps } from './forwardSteps';
import { SagaState } from './sagaState';
import { shieldedFromTemporalCancel, TEMPORAL_CANCEL_REASON } from './temporalCancellation';

/**
 * Sagas started before this patch named their stock steps by SKU only (reserve/<sku>);
 * since, each line has its own (reserve/<line>/<sku>). A step id is an activity input, so
 * it alters no command; the patch keeps a saga that started on the old code on the old
 * ids, so a step retried across the deploy keeps its idempotency key.
 */
export const PER_LINE_STEP_IDS_PATCH = 'per-line-step-ids';

/**
 * Reserve stock → book shipment → (approval) → charge the customer (the pivot) →
 * credit revenue → dispatch → commit stock → (the carrier confirms delivery) → complete.
 * Before the pivot, a business rejection or a cancel (signal, update, or a cancellation
 * requested from Temporal) undoes what was done, in reverse. After it, every step only
 * moves forward: a cancel is refused, and a rejected step parks the saga for an operator.
 */
export async function orderFulfillment(input: OrderFulfillmentInput): Promise<SagaResult> {
  const { orderId } = input;
  const { steps, forward, undo, pivot } = sagaStepStubs(input.settings, input.correlationId);

  const saga = new SagaState<OrderSagaStatus>(
    'orderFulfillment',
    orderId,
    'PLACED',
    ORDER_SAGA_MILESTONES,
  );
  const compensations = new CompensationStack(saga);
  const forwardSteps = new ForwardSteps(saga);
  /**
   * Where the charge is. A cancel is refused only once it is done: while it is in flight
   * the answer waits for it (it may still be refused by the customer's account, and then
   * the order is cancelled after all).
   */
  let charge: 'not started' | 'in flight' | 'done' | 'failed' = 'not started';
  const pivotReached = () => charge === 'in flight' || charge === 'done';
  let approved = false;
  let approvedBy: string | undefined;
  let cancelReason: string | undefined;

  const cancelRefusal = () =>
    charge === 'done'
      ? `order ${orderId} is ${saga.status}: the payment was taken, so it can no longer be cancelled`
      : `order ${orderId} is ${saga.status}: the payment is being taken, so it can no longer be cancelled`;
  const refuseCancel = () => {
    saga.view.cancelRefusedReason = cancelRefusal();
    saga.publish();
  };
  const requestCancel = (reason: string) => {
    if (pivotReached()) refuseCancel();
    else cancelReason ??= reason;
  };

  setHandler(statusQuery, () => saga.view);
  setHandler(approveSignal, (args) => {
    approvedBy ??= principalIdOf(args?.approvedBy);
    approved = true;
  });
  setHandler(cancelSignal, (args) => requestCancel(cancelReasonOf(args)));
  setHandler(
    cancelUpdate,
    async (args: CancelRequest) => {
      if (charge === 'in flight') await condition(() => charge !== 'in flight');
      if (charge === 'done') {
        throw ApplicationFailure.create({ type: 'CancelRefused', message: cancelRefusal() });
      }
      cancelReason ??= cancelReasonOf(args);
      return { accepted: true as const };
    },
    {
      // Validators must not change state: a rejected update leaves no trace in history, so
      // a change made here would vanish on replay. The caller gets the reason instead.
      validator: (args: CancelRequest) => {
        assertCancelRequestShape('cancelOrder', args);
        if (charge === 'done') throw new Error(cancelRefusal());
      },
    },
  );
  setHandler(retryCompensationSignal, () => compensations.requestRetry());
  setHandler(retryStepSignal, () => forwardSteps.requestRetry());
  // Set from the start, so a confirmation that arrives before the saga waits for it is kept.
  const deliveries = new DeliveryInbox();
  setHandler(shipmentDeliveredSignal, (args) => deliveries.receive(args));

  const stepIdsPerLine = patched(PER_LINE_STEP_IDS_PATCH);
  /** Which line a stock step is for: its step id is unique per line (when patched). */
  const lineOf = (line: OrderItem, index: number) =>
    stepIdsPerLine ? { orderId, sku: line.sku, line: index } : { orderId, sku: line.sku };

  const abortIfCancelled = () => {
    if (cancelReason) throw new SagaAbort(`CANCELLED: ${cancelReason}`);
  };
  const orderStep = (
    name: string,
    command: Parameters<SagaActivities['applyOrderCommand']>[0]['command'],
  ) => saga.step(name, () => steps.applyOrderCommand({ orderId, command }));
  const forwardOrderStep = (
    name: string,
    command: Parameters<SagaActivities['applyOrderCommand']>[0]['command'],
  ) => forwardSteps.run(name, () => forward.applyOrderCommand({ orderId, command }));

  /** Everything before the pivot, and the pivot: undone in reverse if it does not complete. */
  async function reserveBookApproveCharge(): Promise<void> {
    for (const [index, line] of input.lines.entries()) {
      compensations.register(`release stock ${line.sku}`, () =>
        undo.releaseStock(lineOf(line, index)),
      );
      abortIfCancelled();
      await saga.step(`reserve stock ${line.sku}`, () =>
        steps.reserveStock({ ...lineOf(line, index), quantity: line.quantity }),
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
      await orderStep('approve', {
        type: 'ApproveOrder',
        ...(approvedBy !== undefined && { approvedBy }),
      });
    }

    // The pivot: once the customer is charged, the order only moves forward.
    abortIfCancelled();
    charge = 'in flight';
    // A charge can time out after it committed: the refund only pays back a debit that happened.
    compensations.register('refund payment', () =>
      undo.refundDebit({
        accountId: input.paymentAccountId,
        amount: input.total,
        debitReference: orderPaymentReference(orderId),
        refundReference: orderRefundReference(orderId),
      }),
    );
    await saga.step('charge customer', () =>
      pivot.debitAccount({
        accountId: input.paymentAccountId,
        amount: input.total,
        reference: orderPaymentReference(orderId),
      }),
    );
    charge = 'done';
  }

  async function compensateAndCancel(error: unknown): Promise<SagaResult> {
    const reason = failureReason(error);
    if (charge === 'in flight') charge = 'failed';
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
    await forwardOrderStep('cancel order', { type: 'CancelOrder', reason });
    saga.finish('CANCELLED', 'CANCELLED', reason);
    return { outcome: 'CANCELLED', status: 'CANCELLED', reason };
  }

  async function finishForward(): Promise<SagaResult> {
    await forwardOrderStep('mark paid', { type: 'MarkPaid', amount: input.total });
    saga.setStatus('PAID');
    await forwardSteps.run('credit revenue', () =>
      forward.creditAccount({
        accountId: input.merchantAccountId,
        amount: input.total,
        reference: orderRevenueReference(orderId),
      }),
    );
    await forwardSteps.run('dispatch shipment', () => forward.dispatchShipment({ orderId }));
    for (const [index, line] of input.lines.entries()) {
      await forwardSteps.run(`commit stock ${line.sku}`, () =>
        forward.commitStock(lineOf(line, index)),
      );
    }
    await forwardOrderStep('mark dispatched', { type: 'MarkDispatched' });
    saga.setStatus('DISPATCHED');
    if (input.deliveryTimeout !== null && patched(AWAIT_DELIVERY_PATCH)) {
      await awaitDelivery(input.deliveryTimeout ?? FALLBACK_DELIVERY_TIMEOUT);
    }
    await forwardOrderStep('complete order', { type: 'CompleteOrder' });
    saga.finish('COMPLETED', 'COMPLETED', null);
    return { outcome: 'COMPLETED', status: 'COMPLETED', reason: null };
  }

  /**
   * Waits for the carrier's confirmation. Past the timeout the order is flagged
   * DELIVERY_OVERDUE (status, SagaStatus, UI details) for an operator, not failed: the
   * goods are out, the money taken, and a late confirmation still completes it.
   */
  async function awaitDelivery(timeout: string): Promise<void> {
    // DISPATCHED now lasts until the carrier answers: make it searchable while it does.
    saga.showStatusInSearch();
    if (!(await condition(() => deliveries.received !== undefined, timeout))) {
      log.warn('no delivery confirmation within the delivery timeout', { orderId, timeout });
      saga.setStatus('DELIVERY_OVERDUE');
      await condition(() => deliveries.received !== undefined);
      saga.setStatus('DISPATCHED');
    }
    log.info('carrier confirmed delivery', {
      orderId,
      messageId: deliveries.received?.messageId,
      duplicatesIgnored: deliveries.duplicatesIgnored,
    });
  }

  const onTemporalCancel = () => {
    requestCancel(TEMPORAL_CANCEL_REASON);
    if (pivotReached())
      log.warn('cancellation requested from Temporal refused: the saga finishes forward', {
        orderId,
        reason: saga.view.cancelRefusedReason,
      });
  };

  saga.publish();
  return shieldedFromTemporalCancel(onTemporalCancel, async () => {
    try {
      await reserveBookApproveCharge();
    } catch (error) {
      return compensateAndCancel(error);
    }
    return finishForward();
  });
}
