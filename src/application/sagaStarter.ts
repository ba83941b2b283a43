import type { Client } from '@temporalio/client';
import { isWorkflowAlreadyStarted } from '../temporal/workflowLookup';
import type { Config } from '../config';
import { reject } from '../domain/decider';
import {
  orderDecider,
  orderTotal,
  placedAsRequested,
  type OrderItem,
  type OrderState,
  type PlaceOrder,
  type PlacedOrder,
  type ShippingAddress,
} from '../domain/order';
import { sagaSettingsFrom } from '../sagas/sagaSettings';
import { orderSagaId, transferSagaId } from '../sagas/sagaIds';
import type { MoneyTransferInput, OrderFulfillmentInput } from '../../workflows/definitions';
import {
  CORRELATION_ID,
  CUSTOMER_ID,
  SAGA_STATUS,
  SAGA_TYPE,
} from '../../workflows/searchAttributes';
import type { CommandHandler } from './commandHandler';

export interface SagaStarterDependencies {
  client: Client;
  commands: CommandHandler;
  config: Pick<
    Config,
    | 'TEMPORAL_TASK_QUEUE'
    | 'APPROVAL_THRESHOLD'
    | 'APPROVAL_TIMEOUT'
    | 'DELIVERY_CONFIRMATION'
    | 'DELIVERY_TIMEOUT'
    | 'MERCHANT_ACCOUNT_ID'
    | 'ACTIVITY_START_TO_CLOSE'
    | 'ACTIVITY_MAX_ATTEMPTS'
    | 'COMPENSATION_MAX_ATTEMPTS'
    | 'SAGA_LOCAL_ACTIVITIES'
  >;
  now?: () => Date;
}

export interface PlaceOrderRequest {
  orderId: string;
  customerId: string;
  paymentAccountId: string;
  items: OrderItem[];
  shippingAddress: ShippingAddress;
  correlationId: string;
}

export interface StartedSaga {
  sagaId: string;
  runId: string | undefined;
  /** Position of the event the start produced (read-your-writes). */
  position: string | null;
  /** False when a saga for this business id already existed and we attached to it. */
  started: boolean;
}

const money = (minor: number) => (minor / 100).toFixed(2);
const shortId = (id: string) => (id.length > 8 ? `${id.slice(0, 8)}…` : id);

/**
 * Places the order (its personal data stays in the event store) and starts its saga with
 * ids and amounts only. Both steps are idempotent: the order id names the command and the
 * workflow, so a retry attaches to what the first attempt did.
 *
 * The saga starts from the order as stored, never from the request: a retry whose order
 * id (derived from its idempotency key) reaches an order placed with another body is
 * refused with ORDER_ALREADY_PLACED_DIFFERENTLY (409), and no saga starts from it.
 */
export async function placeOrderAndStartSaga(
  deps: SagaStarterDependencies,
  request: PlaceOrderRequest,
): Promise<StartedSaga & { total: number }> {
  const command: PlaceOrder = {
    type: 'PlaceOrder',
    data: {
      orderId: request.orderId,
      customerId: request.customerId,
      paymentAccountId: request.paymentAccountId,
      items: request.items,
      shippingAddress: request.shippingAddress,
    },
    metadata: { now: (deps.now?.() ?? new Date()).toISOString() },
  };
  const placed = await deps.commands.handle(orderDecider, request.orderId, command, {
    commandId: `place-order/${request.orderId}`,
    correlationId: request.correlationId,
  });
  const stored = storedOrderAsRequested(placed.state, command);
  const started = await startOrderSaga(deps, {
    orderId: stored.orderId,
    customerId: stored.customerId,
    paymentAccountId: stored.paymentAccountId,
    items: stored.items,
    total: stored.total,
    correlationId: request.correlationId,
  });
  return { ...started, position: placed.lastPosition?.toString() ?? null };
}

/** Why placing an order is refused before its saga starts (besides the order decider's codes). */
export const PLACE_ORDER_REJECTION_CODES = ['ORDER_ALREADY_PLACED_DIFFERENTLY'] as const;

function storedOrderAsRequested(state: OrderState, command: PlaceOrder): PlacedOrder {
  if (state.status === 'NONE')
    throw new Error(`order ${command.data.orderId} is not stored after PlaceOrder`);
  if (!placedAsRequested(state, command.data))
    throw reject(
      'ORDER_ALREADY_PLACED_DIFFERENTLY',
      `Order ${command.data.orderId} was already placed with other items, customer, account or destination`,
      { orderId: command.data.orderId },
    );
  return state;
}

/** The facts an order saga starts from: ids and amounts as stored, never the address. */
export interface OrderSagaFacts extends Pick<
  PlacedOrder,
  'orderId' | 'customerId' | 'paymentAccountId'
> {
  /** The stored lines (a saga's input takes sku, quantity and price: not the currency). */
  items: readonly OrderItem[];
  /** The stored total; the domain's `orderTotal` of the stored items when absent. */
  total?: number;
  correlationId: string;
}

/**
 * Starts (or attaches to) the saga of an order that is already placed. Used right after
 * placing it, and by the reconciler for orders whose saga never started: both pass the
 * order as stored.
 */
export async function startOrderSaga(
  deps: SagaStarterDependencies,
  order: OrderSagaFacts,
): Promise<StartedSaga & { total: number }> {
  const total = order.total ?? orderTotal(order.items);
  const input: OrderFulfillmentInput = {
    orderId: order.orderId,
    customerId: order.customerId,
    paymentAccountId: order.paymentAccountId,
    lines: order.items.map(({ sku, quantity, unitPrice }) => ({ sku, quantity, unitPrice })),
    total,
    correlationId: order.correlationId,
    merchantAccountId: deps.config.MERCHANT_ACCOUNT_ID,
    approvalThreshold: deps.config.APPROVAL_THRESHOLD,
    approvalTimeout: deps.config.APPROVAL_TIMEOUT,
    deliveryTimeout:
      deps.config.DELIVERY_CONFIRMATION === 'carrier' ? deps.config.DELIVERY_TIMEOUT : null,
    settings: sagaSettingsFrom(deps.config),
  };
  const lines = order.items.length;
  const started = await startOrAttach(
    deps.client,
    'orderFulfillment',
    orderSagaId(order.orderId),
    [input],
    {
      taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
      staticSummary: `Order ${shortId(order.orderId)} · ${lines} line${lines === 1 ? '' : 's'} · ${money(total)} · customer ${order.customerId}`,
      searchAttributes: [
        { key: SAGA_TYPE, value: 'orderFulfillment' },
        { key: SAGA_STATUS, value: 'PLACED' },
        { key: CUSTOMER_ID, value: order.customerId },
        { key: CORRELATION_ID, value: order.correlationId },
      ],
    },
  );
  return { ...started, total };
}

export interface StartTransferRequest {
  transferId: string;
  fromAccountId: string;
  toAccountId: string;
  amount: number;
  correlationId: string;
}

export async function startTransferSaga(
  deps: SagaStarterDependencies,
  request: StartTransferRequest,
): Promise<StartedSaga> {
  const input: MoneyTransferInput = {
    ...request,
    settings: sagaSettingsFrom(deps.config),
  };
  return startOrAttach(deps.client, 'moneyTransfer', transferSagaId(request.transferId), [input], {
    taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
    staticSummary: `Transfer ${shortId(request.transferId)} · ${money(request.amount)} · ${request.fromAccountId} → ${request.toAccountId}`,
    searchAttributes: [
      { key: SAGA_TYPE, value: 'moneyTransfer' },
      { key: SAGA_STATUS, value: 'REQUESTED' },
      { key: CORRELATION_ID, value: request.correlationId },
    ],
  });
}

async function startOrAttach(
  client: Client,
  workflowType: 'orderFulfillment' | 'moneyTransfer',
  workflowId: string,
  args: [OrderFulfillmentInput] | [MoneyTransferInput],
  options: {
    taskQueue: string;
    staticSummary: string;
    searchAttributes: Array<{ key: typeof SAGA_TYPE; value: string }>;
  },
): Promise<StartedSaga> {
  try {
    const handle = await client.workflow.start(workflowType, {
      workflowId,
      taskQueue: options.taskQueue,
      args,
      // A running saga for this business id: attach instead of starting a second.
      workflowIdConflictPolicy: 'USE_EXISTING',
      // A finished one: refuse, and answer with it (below).
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      typedSearchAttributes: options.searchAttributes,
      staticSummary: options.staticSummary,
    });
    return { sagaId: workflowId, runId: handle.firstExecutionRunId, position: null, started: true };
  } catch (error) {
    if (isWorkflowAlreadyStarted(error)) {
      return { sagaId: workflowId, runId: undefined, position: null, started: false };
    }
    throw error;
  }
}
