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

/**
 * The saga a guarded money movement belongs to, from its reference (the sagas build them as
 * `order-<id>/payment` and `transfer-<id>/debit|credit`). An order's revenue credit is not
 * guarded: it follows MarkPaid, which an ended order refuses, so the check would only cost
 * a read.
 */
export function sagaOfReference(
  reference: string,
): { kind: 'order' | 'transfer'; id: string } | undefined {
  const match = /^(order|transfer)-(.+)\/(payment|debit|credit)$/.exec(reference);
  if (!match) return undefined;
  return { kind: match[1] as 'order' | 'transfer', id: match[2]! };
}

async function endedStatus(store: EventStore, reference: string): Promise<string | undefined> {
  const saga = sagaOfReference(reference);
  if (!saga) return undefined;
  if (saga.kind === 'order') {
    const { state } = await loadAggregate(store, orderDecider.streamId(saga.id), orderDecider, {
      sealedPersonalData: true,
    });
    return (ENDED_ORDER_STATUSES as readonly string[]).includes(state.status)
      ? state.status
      : undefined;
  }
  const { state } = await loadAggregate(store, transferDecider.streamId(saga.id), transferDecider);
  return (ENDED_TRANSFER_STATUSES as readonly string[]).includes(state.status)
    ? state.status
    : undefined;
}

/**
 * Refuses to debit or credit for an order or transfer that already ended without moving
 * that money. A saga's own run never does so; a second run does: a reset to an earlier
 * point, or a second start of the same saga (Temporal UI "Start workflow like this one",
 * `temporal workflow start` with the default reuse policy) re-runs every step, and the
 * pivot of a cancelled order, rejected the first time, could now succeed and charge a
 * customer for an order that will never ship. The refusal is a business rejection, so the
 * run unwinds (idempotently) and ends as the first one did.
 */
export function refuseMoneyMovesOfEndedSagas(
  activities: SagaActivities,
  store: EventStore,
): SagaActivities {
  const guard =
    <I extends { reference: string }, O>(move: (input: I) => Promise<O>) =>
    async (input: I): Promise<O> => {
      const ended = await endedStatus(store, input.reference);
      if (ended === undefined) return move(input);
      return asActivity(() => {
        throw new DomainRejection(
          'SAGA_ENDED',
          `${input.reference}: its saga already ended ${ended}; this run may not move money`,
          { reference: input.reference, status: ended },
        );
      });
    };
  return {
    ...activities,
    debitAccount: guard((input) => activities.debitAccount(input)),
    creditAccount: guard((input) => activities.creditAccount(input)),
  };
}
