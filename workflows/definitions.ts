import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { ORDER_STATUSES, type OrderItem } from '../src/domain/order/order';

/**
 * What the status query reports: the order's own statuses, plus COMPENSATING while it
 * unwinds, FORWARD_STEP_FAILED while a rejected step after the pivot waits for an operator,
 * and DELIVERY_OVERDUE while a dispatched order has had no delivery confirmation from the
 * carrier within its delivery timeout (an operator checks with the carrier; a late
 * confirmation still completes it).
 */
export const ORDER_SAGA_STATUSES = [
  ...ORDER_STATUSES,
  'COMPENSATING',
  'FORWARD_STEP_FAILED',
  'DELIVERY_OVERDUE',
] as const;
export type OrderSagaStatus = (typeof ORDER_SAGA_STATUSES)[number];

/**
 * The order statuses the SagaStatus search attribute takes: those that change what an
 * operator can do (cancel, approve, nothing more before the pivot; retry a parked unwind)
 * or that end the saga. The steps in between (STOCK_RESERVED, SHIPMENT_BOOKED,
 * DISPATCHED) last as long as the next activity, and each update is a history event plus
 * a visibility write (the saga benchmark: 0.69 of the baseline with every status, 0.73
 * with milestones); the status query and the order read model report them. (A saga that
 * waits for the carrier's delivery confirmation upserts DISPATCHED once it waits:
 * SagaState.showStatusInSearch. DELIVERY_OVERDUE flags it for an operator.)
 */
export const ORDER_SAGA_MILESTONES = [
  'PLACED',
  'AWAITING_APPROVAL',
  'PAID',
  'COMPENSATING',
  'COMPENSATION_FAILED',
  'FORWARD_STEP_FAILED',
  'DELIVERY_OVERDUE',
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
  'FORWARD_STEP_FAILED',
] as const;
export type TransferSagaStatus = (typeof TRANSFER_SAGA_STATUSES)[number];

export const SAGA_TYPES = ['orderFulfillment', 'moneyTransfer'] as const;
export type SagaType = (typeof SAGA_TYPES)[number];
export const SAGA_OUTCOMES = [
  'RUNNING',
  'COMPLETED',
  'CANCELLED',
  'FAILED',
  'COMPENSATED',
  'COMPENSATION_FAILED',
  'FORWARD_STEP_FAILED',
] as const;
export type SagaOutcome = (typeof SAGA_OUTCOMES)[number];

export type SagaStatus = OrderSagaStatus | TransferSagaStatus;

/** The answer of the `status` query, and of GET /orders/{id}/saga. */
export interface SagaStatusView<Status extends SagaStatus = SagaStatus> {
  sagaType: SagaType;
  businessId: string;
  status: Status;
  outcome: SagaOutcome;
  currentStep: string | null;
  completedSteps: string[];
  compensationsRegistered: string[];
  compensationsRun: string[];
  /** The compensation that keeps failing while the saga is parked. */
  failingCompensation: string | null;
  /** The forward step (after the pivot) the domain rejected, while the saga is parked. */
  failingStep: string | null;
  failureReason: string | null;
  cancelRefusedReason: string | null;
}

/** Settings fixed when a saga starts (recorded in its history, so replays see the same). */
export interface SagaSettings {
  activityStartToClose: string;
  activityMaxAttempts: number;
  compensationMaxAttempts: number;
  /**
   * Run the steps as local activities (SAGA_LOCAL_ACTIVITIES): fewer round trips to Temporal.
   * Absent in sagas started before the setting existed: regular activities.
   */
  localActivities?: boolean;
}

/** Ids and amounts only: no names, emails or addresses ever enter Temporal. */
export interface OrderFulfillmentInput {
  orderId: string;
  customerId: string;
  paymentAccountId: string;
  /** The order's items (the saga needs no currency: every line is in ORDER_CURRENCY). */
  lines: OrderItem[];
  total: number;
  correlationId: string;
  merchantAccountId: string;
  approvalThreshold: number;
  approvalTimeout: string;
  /**
   * How long the saga waits, after dispatch, for the carrier's delivery confirmation before
   * it flags the order DELIVERY_OVERDUE (it keeps waiting). `null`: the deployment has no
   * carrier confirmation (DELIVERY_CONFIRMATION=none) and the order completes at dispatch.
   * Absent in inputs from before the await-carrier-delivery patch.
   */
  deliveryTimeout?: string | null;
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

export interface SagaResult<Status extends SagaStatus = SagaStatus> {
  outcome: SagaOutcome;
  status: Status;
  reason: string | null;
}

/**
 * Who did something, as Temporal may carry it: an authenticated principal id (e.g.
 * `key-3f2a…`), never free text. Anything else (a name or a note typed into a signal in
 * the UI) is recorded as UNVERIFIED_PRINCIPAL, so it reaches no event.
 */
const PRINCIPAL_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;
export const UNVERIFIED_PRINCIPAL = 'unverified';
export function principalIdOf(value: unknown): string {
  return typeof value === 'string' && PRINCIPAL_ID.test(value) ? value : UNVERIFIED_PRINCIPAL;
}

/** Why an order is cancelled, as a code: free text from a client never enters Temporal. */
export const CANCEL_REASON_CODES = [
  'CUSTOMER_REQUEST',
  'OPERATOR_REQUEST',
  'FRAUD_SUSPECTED',
  'UNSPECIFIED',
] as const;
export type CancelReasonCode = (typeof CANCEL_REASON_CODES)[number];

export interface ApproveRequest {
  /** The principal id of who approved (recorded in OrderApproved). */
  approvedBy?: string;
}

export interface CancelRequest {
  reasonCode?: CancelReasonCode;
  /** The principal id of who asked. */
  requestedBy?: string;
  /** Free text from older clients or typed into the UI: ignored, never copied into events. */
  reason?: string;
}

/**
 * An update's input is whatever the caller typed (the CLI's `--input null`, the UI's JSON
 * box): refuse what is not a cancel request, so the caller learns it and the saga carries on.
 */
export function assertCancelRequestShape(update: string, args: unknown): void {
  if (args === undefined) return;
  if (args === null || typeof args !== 'object' || Array.isArray(args)) {
    throw new Error(
      `update ${update} failed on its input: expected an object like {"reasonCode": "CUSTOMER_REQUEST"}`,
    );
  }
}

/** The cancel reason a saga records: "<CODE>" or "<CODE> by <principal id>". */
export function cancelReasonOf(request: CancelRequest | undefined): string {
  const code = (CANCEL_REASON_CODES as readonly unknown[]).includes(request?.reasonCode)
    ? request!.reasonCode!
    : 'UNSPECIFIED';
  return request?.requestedBy === undefined
    ? code
    : `${code} by ${principalIdOf(request.requestedBy)}`;
}

export const statusQuery = defineQuery<SagaStatusView>('status');
export const approveSignal = defineSignal<[ApproveRequest?]>('approve');
export const cancelSignal = defineSignal<[CancelRequest?]>('cancel');
export const retryCompensationSignal = defineSignal('retryCompensation');
/** A forward step parked in FORWARD_STEP_FAILED tries again (after the cause was fixed). */
export const retryStepSignal = defineSignal('retryStep');
/** The API's synchronous cancel: rejected with a reason once the payment was taken. */
export const cancelUpdate = defineUpdate<{ accepted: true }, [CancelRequest]>('cancelOrder');
