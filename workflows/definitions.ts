import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { ORDER_STATUSES } from '../src/domain/order/order';

/** What the status query reports: the order's own statuses, plus COMPENSATING while it unwinds. */
export const ORDER_SAGA_STATUSES = [...ORDER_STATUSES, 'COMPENSATING'] as const;
export type OrderSagaStatus = (typeof ORDER_SAGA_STATUSES)[number];

/**
 * The order statuses the SagaStatus search attribute takes: those that change what an
 * operator can do (cancel, approve, nothing more before the pivot; retry a parked unwind)
 * or that end the saga. The steps in between (STOCK_RESERVED, SHIPMENT_BOOKED,
 * DISPATCHED) last as long as the next activity, and each update is a history event plus
 * a visibility write (the saga benchmark: 0.69 of the baseline with every status, 0.73
 * with milestones); the status query and the order read model report them.
 */
export const ORDER_SAGA_MILESTONES = [
  'PLACED',
  'AWAITING_APPROVAL',
  'PAID',
  'COMPENSATING',
  'COMPENSATION_FAILED',
  'CANCELLED',
  'COMPLETED',
] as const satisfies readonly OrderSagaStatus[];

export const TRANSFER_SAGA_STATUSES = [
  'REQUESTED',
  'DEBITED',
  'COMPLETED',
  'FAILED',
  'COMPENSATING',
  'COMPENSATED',
  'COMPENSATION_FAILED',
] as const;
export type TransferSagaStatus = (typeof TRANSFER_SAGA_STATUSES)[number];

export type SagaType = 'orderFulfillment' | 'moneyTransfer';
export type SagaOutcome =
  'RUNNING' | 'COMPLETED' | 'CANCELLED' | 'FAILED' | 'COMPENSATED' | 'COMPENSATION_FAILED';

/** The answer of the `status` query, and of GET /orders/{id}/saga. */
export interface SagaStatusView {
  sagaType: SagaType;
  businessId: string;
  status: OrderSagaStatus | TransferSagaStatus;
  outcome: SagaOutcome;
  currentStep: string | null;
  completedSteps: string[];
  compensationsRegistered: string[];
  compensationsRun: string[];
  /** The compensation that keeps failing while the saga is parked. */
  failingCompensation: string | null;
  failureReason: string | null;
  cancelRefusedReason: string | null;
}

/** Settings fixed when a saga starts (recorded in its history, so replays see the same). */
export interface SagaSettings {
  activityStartToClose: string;
  activityMaxAttempts: number;
  compensationMaxAttempts: number;
}

export interface OrderLine {
  sku: string;
  quantity: number;
  /** Minor units (cents). */
  unitPrice: number;
}

/** Ids and amounts only: no names, emails or addresses ever enter Temporal. */
export interface OrderFulfillmentInput {
  orderId: string;
  customerId: string;
  paymentAccountId: string;
  lines: OrderLine[];
  total: number;
  correlationId: string;
  merchantAccountId: string;
  approvalThreshold: number;
  approvalTimeout: string;
  settings: SagaSettings;
}

export interface MoneyTransferInput {
  transferId: string;
  fromAccountId: string;
  toAccountId: string;
  amount: number;
  correlationId: string;
  settings: SagaSettings;
}

export interface SagaResult {
  outcome: SagaOutcome;
  status: string;
  reason: string | null;
}

export const statusQuery = defineQuery<SagaStatusView>('status');
export const approveSignal = defineSignal<[{ approvedBy?: string }?]>('approve');
export const cancelSignal = defineSignal<[{ reason?: string }?]>('cancel');
export const retryCompensationSignal = defineSignal('retryCompensation');
/** The API's synchronous cancel: rejected with a reason once the payment was taken. */
export const cancelUpdate = defineUpdate<{ accepted: true }, [{ reason?: string }]>('cancelOrder');
