import type { SagaActivities } from '../../activities';
import { asActivity } from '../../activities/sagaActivityContext';
import { DomainRejection } from '../domain/decider';
import { orderDecider, type OrderStatus } from '../domain/order';
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

/** A guarded movement: the charge of an order, the debit or credit of a transfer. */
export interface SagaMovement {
  kind: 'order' | 'transfer';
  id: string;
  movement: 'payment' | 'revenue' | 'debit' | 'credit';
}

/**
 * The saga a guarded money movement belongs to, from its reference (the sagas build them as
 * `order-<id>/payment|revenue` and `transfer-<id>/debit|credit`).
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

/** Throws the refusal as the activity failure a business rejection becomes. */
const refused = (refusal: DomainRejection): Promise<never> =>
  asActivity<never>(() => {
    throw refusal;
  });

export function refuseUnbackedMoves(
  activities: SagaActivities,
  store: EventStore,
  /** Where every order's revenue goes (MERCHANT_ACCOUNT_ID). */
  merchantAccountId: string,
): SagaActivities {
  const guard =
    <I extends Movement, O>(move: (input: I) => Promise<O>) =>
    async (input: I): Promise<O> => {
      const refusal = await refusalOf(store, input, merchantAccountId);
      return refusal ? refused(refusal) : move(input);
    };
  return {
    ...activities,
    debitAccount: guard((input) => activities.debitAccount(input)),
    creditAccount: guard((input) => activities.creditAccount(input)),
    // Stock only leaves through a reservation (commits need one): guarding it is enough.
    reserveStock: async (input) => {
      const refusal = await reservationRefusalOf(store, input);
      return refusal ? refused(refusal) : activities.reserveStock(input);
    },
  };
}
