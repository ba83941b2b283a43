import type { AccountDebited, RecordedDebit } from '../domain/account';
import { eventIdFor, type EventStore, type RecordedEvent } from '../eventstore';

/**
 * The debit a saga step appended, as the account's stream records it: the one event of the
 * step's command (`<workflow id>/debit/<reference>`), looked up by its deterministic id. An
 * indexed lookup that does not depend on the account's window of recent references, so a
 * refund long after its debit (10,000 other movements later) still finds it. Null when the
 * step appended nothing (it was rejected, voided, or never ran).
 */
export async function recordedDebitOfStep(
  store: Pick<EventStore, 'readEventsById'>,
  accountStreamId: string,
  debitCommandId: string,
  debitReference: string,
): Promise<RecordedDebit | null> {
  const [event] = await store.readEventsById(accountStreamId, [eventIdFor(debitCommandId, 0)]);
  return event ? debitOf(event, debitReference) : null;
}

/**
 * The debit with this reference, whichever command appended it: a scan of the whole stream
 * (for the rare question the step's event id cannot answer, and for the reconciler).
 */
export async function recordedDebitByReference(
  store: Pick<EventStore, 'readStream'>,
  accountStreamId: string,
  debitReference: string,
): Promise<RecordedDebit | null> {
  for (const event of await store.readStream(accountStreamId)) {
    const debit = debitOf(event, debitReference);
    if (debit) return debit;
  }
  return null;
}

/** The debit `event` records under `reference`, if it is one. */
export function debitOf(event: RecordedEvent, reference: string): RecordedDebit | null {
  if (event.type !== 'AccountDebited') return null;
  const data = event.data as Partial<AccountDebited['data']>;
  if (data.reference !== reference || typeof data.amount !== 'number') return null;
  return { amount: data.amount };
}
