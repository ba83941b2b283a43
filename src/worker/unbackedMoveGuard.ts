import type { SagaActivities } from '../../activities';
import { asActivity } from '../../activities/sagaActivityContext';
import { DomainRejection } from '../domain/decider';
import { inventoryDecider, reservationOf } from '../domain/inventory';
import { orderDecider, type OrderState, type OrderStatus } from '../domain/order';
import { transferDecider, type TransferStatus } from '../domain/transfer';
import { loadAggregate, type EventStore } from '../eventstore';

/** Order statuses after which no saga run may take or pay money for the order. */
const ENDED_ORDER_STATUSES: readonly OrderStatus[] = ['CANCELLED', 'COMPENSATION_FAILED'];
/** Transfer statuses after which no saga run may debit or credit for the transfer. */
const ENDED_TRANSFER_STATUSES: readonly TransferStatus[] = [
  'FAILED',
  'COMPENSATED',
  'COMPENSATION_FAILED',
];

/** Order statuses past the pivot: the customer paid, so no compensation may undo the order. */
const PAST_PIVOT_ORDER_STATUSES: readonly OrderStatus[] = ['PAID', 'DISPATCHED', 'COMPLETED'];

/** What the guard needs from the configuration. */
export interface GuardSettings {
  /** Where every order's revenue goes (MERCHANT_ACCOUNT_ID). */
  merchantAccountId: string;
  /** Orders of this total or more need an approval before the charge (APPROVAL_THRESHOLD). */
  approvalThreshold: number;
}

/** A guarded movement: the charge of an order, the debit or credit of a transfer. */
export interface SagaMovement {
  kind: 'order' | 'transfer';
  id: string;
  movement: 'payment' | 'revenue' | 'debit' | 'credit';
}

/**
 * The saga a guarded money movement belongs to, from its reference: the inverse of
 * orderPaymentReference, orderRevenueReference (src/domain/order) and transferDebitReference,
 * transferCreditReference (src/domain/transfer).
 */
export function sagaOfReference(reference: string): SagaMovement | undefined {
  const match = /^(order|transfer)-(.+)\/(payment|revenue|debit|credit)$/.exec(reference);
  if (!match) return undefined;
  return {
    kind: match[1] as SagaMovement['kind'],
    id: match[2]!,
    movement: match[3] as SagaMovement['movement'],
  };
}

interface Movement {
  accountId: string;
  amount: number;
  reference: string;
}

/** What the order or transfer recorded about a movement: its status, account and amount. */
async function recordedMovement(
  store: EventStore,
  saga: SagaMovement,
  merchantAccountId: string,
): Promise<{ status: string; accountId: string; amount: number } | undefined> {
  if (saga.kind === 'order') {
    const { state } = await loadAggregate(store, orderDecider.streamId(saga.id), orderDecider, {
      sealedPersonalData: true,
    });
    if (state.status === 'NONE') return undefined;
    const accountId = saga.movement === 'revenue' ? merchantAccountId : state.paymentAccountId;
    return { status: state.status, accountId, amount: state.total };
  }
  const { state } = await loadAggregate(store, transferDecider.streamId(saga.id), transferDecider);
  if (state.status === 'NONE') return undefined;
  const accountId = saga.movement === 'credit' ? state.toAccountId : state.fromAccountId;
  return { status: state.status, accountId, amount: state.amount };
}

const ENDED_STATUSES: Record<SagaMovement['kind'], readonly string[]> = {
  order: ENDED_ORDER_STATUSES,
  transfer: ENDED_TRANSFER_STATUSES,
};

/** Why this run may not make this movement, or undefined when it may. */
async function refusalOf(
  store: EventStore,
  move: Movement,
  merchantAccountId: string,
): Promise<DomainRejection | undefined> {
  const saga = sagaOfReference(move.reference);
  if (!saga) return undefined;
  const recorded = await recordedMovement(store, saga, merchantAccountId);
  const details = { reference: move.reference, accountId: move.accountId, amount: move.amount };
  if (!recorded || recorded.accountId !== move.accountId || recorded.amount !== move.amount)
    return new DomainRejection(
      'SAGA_INPUT_MISMATCH',
      `${move.reference}: ${move.amount} on ${move.accountId} is not what the ${saga.kind} recorded`,
      { ...details, recorded },
    );
  if (ENDED_STATUSES[saga.kind].includes(recorded.status))
    return new DomainRejection(
      'SAGA_ENDED',
      `${move.reference}: its saga already ended ${recorded.status}; this run may not move money`,
      { ...details, status: recorded.status },
    );
  return undefined;
}

/**
 * Refuses a saga's money movement or stock reservation that its order or transfer does not
 * back. A saga's own
 * run never asks for one; another run can:
 * - a reset to an earlier point, or a second start of the same saga (Temporal UI "Start
 *   workflow like this one", `temporal workflow start` with the default reuse policy),
 *   re-runs every step, and the pivot of a cancelled order, rejected the first time, could
 *   now succeed and charge a customer for an order that will never ship (SAGA_ENDED);
 * - a start whose input was edited (another account, another amount) would move money the
 *   order or transfer never agreed to: references are per account, so a completed order's
 *   charge re-run on another customer's account, or its revenue credited to another
 *   account, is not recognised as done (SAGA_INPUT_MISMATCH).
 * - likewise, a reservation of a line the order does not have (an edited `lines`) would
 *   commit stock to an order that never paid for it (SAGA_INPUT_MISMATCH).
 * The refusal is a business rejection, so the run unwinds (idempotently) and ends.
 */
/** Why this run may not reserve this stock for the order, or undefined when it may. */
async function reservationRefusalOf(
  store: EventStore,
  reservation: { orderId: string; sku: string; quantity: number },
): Promise<DomainRejection | undefined> {
  const { orderId, sku, quantity } = reservation;
  const { state } = await loadAggregate(store, orderDecider.streamId(orderId), orderDecider, {
    sealedPersonalData: true,
  });
  const ordered =
    state.status !== 'NONE' &&
    state.items.some((item) => item.sku === sku && item.quantity === quantity);
  if (ordered) return undefined;
  return new DomainRejection(
    'SAGA_INPUT_MISMATCH',
    `order ${orderId}: ${quantity} x ${sku} is not a line of the order`,
    { orderId, sku, quantity },
  );
}

const loadOrder = async (store: EventStore, orderId: string): Promise<OrderState> =>
  (
    await loadAggregate(store, orderDecider.streamId(orderId), orderDecider, {
      sealedPersonalData: true,
    })
  ).state;

const isPastPivot = (order: OrderState): boolean =>
  PAST_PIVOT_ORDER_STATUSES.includes(order.status as OrderStatus);

/**
 * Refuses a charge of an order that needs an approval it does not have: the run's input
 * (`approvalThreshold`, `total`) can be edited, the order's record and the configuration not.
 * An order past the pivot is left to the other checks (its charge is already done).
 */
async function unapprovedChargeRefusalOf(
  store: EventStore,
  move: Movement,
  approvalThreshold: number,
): Promise<DomainRejection | undefined> {
  const saga = sagaOfReference(move.reference);
  if (saga?.kind !== 'order' || saga.movement !== 'payment') return undefined;
  const order = await loadOrder(store, saga.id);
  if (order.status === 'NONE' || isPastPivot(order) || order.approved) return undefined;
  const needsApproval = order.approvalRequested || order.total >= approvalThreshold;
  if (!needsApproval) return undefined;
  return new DomainRejection(
    'SAGA_INPUT_MISMATCH',
    `${move.reference}: order ${saga.id} (total ${order.total}, threshold ${approvalThreshold}) ` +
      'needs an approval it does not have; this run may not charge it',
    { reference: move.reference, status: order.status, total: order.total, approvalThreshold },
  );
}

/**
 * Refuses a refund of a charge the order or transfer kept: an order past the pivot (the
 * payment was taken legitimately), a completed transfer; and a refund to an account that is
 * not the one the order or transfer recorded as debited.
 */
async function keptPaymentRefundRefusalOf(
  store: EventStore,
  refund: { accountId: string; amount: number; debitReference: string },
  merchantAccountId: string,
): Promise<DomainRejection | undefined> {
  const saga = sagaOfReference(refund.debitReference);
  if (!saga || (saga.movement !== 'payment' && saga.movement !== 'debit')) return undefined;
  const recorded = await recordedMovement(store, saga, merchantAccountId);
  if (!recorded) return undefined; // nothing placed, nothing debited: the refund finds no debit
  const details = { ...refund, status: recorded.status };
  if (recorded.accountId !== refund.accountId)
    return new DomainRejection(
      'SAGA_INPUT_MISMATCH',
      `refund of ${refund.debitReference}: ${refund.accountId} is not the account the ${saga.kind} debited`,
      { ...details, recordedAccountId: recorded.accountId },
    );
  const kept =
    saga.kind === 'order'
      ? PAST_PIVOT_ORDER_STATUSES.includes(recorded.status as OrderStatus)
      : recorded.status === 'COMPLETED';
  if (!kept) return undefined;
  return new DomainRejection(
    'SAGA_INPUT_MISMATCH',
    `refund of ${refund.debitReference}: the ${saga.kind} is ${recorded.status}, its payment stays taken; this run may not refund it`,
    details,
  );
}

/**
 * Refuses a compensation (release of stock, cancel of the shipment) of an order past the
 * pivot: a reset that re-applies a refused cancel, or an edited second start, unwinds a run
 * of an order the customer paid for; its stock and shipment are the order's.
 */
async function paidOrderCompensationRefusalOf(
  store: EventStore,
  orderId: string,
  compensation: string,
): Promise<DomainRejection | undefined> {
  const order = await loadOrder(store, orderId);
  if (!isPastPivot(order)) return undefined;
  return new DomainRejection(
    'SAGA_INPUT_MISMATCH',
    `order ${orderId} is ${order.status}: the customer paid, this run may not ${compensation}`,
    { orderId, status: order.status, compensation },
  );
}

/**
 * Refuses to mark dispatched or complete an order while a line of the stored order is not
 * committed: a run whose input lost a line (an edited `lines`) would complete the order
 * with that line's stock reserved forever.
 */
async function uncommittedLineRefusalOf(
  store: EventStore,
  orderId: string,
  command: string,
): Promise<DomainRejection | undefined> {
  const order = await loadOrder(store, orderId);
  if (order.status === 'NONE') return undefined;
  const uncommitted: string[] = [];
  for (const item of order.items) {
    const { state } = await loadAggregate(
      store,
      inventoryDecider.streamId(item.sku),
      inventoryDecider,
    );
    if (reservationOf(state, orderId)?.status !== 'committed') uncommitted.push(item.sku);
  }
  if (uncommitted.length === 0) return undefined;
  return new DomainRejection(
    'SAGA_INPUT_MISMATCH',
    `order ${orderId}: ${command} refused, the stock of ${uncommitted.join(', ')} is not committed`,
    { orderId, command, uncommitted },
  );
}

/** Order commands that may only follow the commit of every line's stock. */
const AFTER_COMMIT_ORDER_COMMANDS: readonly string[] = ['MarkDispatched', 'CompleteOrder'];

/** Throws the refusal as the activity failure a business rejection becomes. */
const refused = (refusal: DomainRejection): Promise<never> =>
  asActivity<never>(() => {
    throw refusal;
  });

/** Runs the activity unless a check refuses it (the first refusal wins). */
const unlessRefused =
  <I, O>(
    activity: (input: I) => Promise<O>,
    ...checks: ((input: I) => Promise<DomainRejection | undefined>)[]
  ) =>
  async (input: I): Promise<O> => {
    for (const check of checks) {
      const refusal = await check(input);
      if (refusal) return refused(refusal);
    }
    return activity(input);
  };

export function refuseUnbackedMoves(
  activities: SagaActivities,
  store: EventStore,
  settings: GuardSettings,
): SagaActivities {
  const { merchantAccountId, approvalThreshold } = settings;
  const unbacked = (move: Movement) => refusalOf(store, move, merchantAccountId);
  return {
    ...activities,
    debitAccount: unlessRefused(
      (input: Parameters<SagaActivities['debitAccount']>[0]) => activities.debitAccount(input),
      unbacked,
      (move) => unapprovedChargeRefusalOf(store, move, approvalThreshold),
    ),
    creditAccount: unlessRefused(
      (input: Parameters<SagaActivities['creditAccount']>[0]) => activities.creditAccount(input),
      unbacked,
    ),
    // Stock only leaves through a reservation (commits need one): guarding it is enough.
    reserveStock: unlessRefused(
      (input: Parameters<SagaActivities['reserveStock']>[0]) => activities.reserveStock(input),
      (input) => reservationRefusalOf(store, input),
    ),
    refundDebit: unlessRefused(
      (input: Parameters<SagaActivities['refundDebit']>[0]) => activities.refundDebit(input),
      (input) => keptPaymentRefundRefusalOf(store, input, merchantAccountId),
    ),
    releaseStock: unlessRefused(
      (input: Parameters<SagaActivities['releaseStock']>[0]) => activities.releaseStock(input),
      (input) =>
        paidOrderCompensationRefusalOf(store, input.orderId, `release its stock of ${input.sku}`),
    ),
    cancelShipment: unlessRefused(
      (input: Parameters<SagaActivities['cancelShipment']>[0]) => activities.cancelShipment(input),
      (input) => paidOrderCompensationRefusalOf(store, input.orderId, 'cancel its shipment'),
    ),
    applyOrderCommand: unlessRefused(
      (input: Parameters<SagaActivities['applyOrderCommand']>[0]) =>
        activities.applyOrderCommand(input),
      (input) =>
        AFTER_COMMIT_ORDER_COMMANDS.includes(input.command.type)
          ? uncommittedLineRefusalOf(store, input.orderId, input.command.type)
          : Promise.resolve(undefined),
    ),
  };
}
