import { v5 as uuidv5 } from 'uuid';

/** Namespace for every id Sagaflow derives; changing it would break idempotency of old commands. */
export const SAGAFLOW_NAMESPACE = '6f1c2b1e-6a51-4c55-9d6a-1f0e7f3b2a90';

/**
 * A stable UUID derived from a name. The same command id (and index) always yields the
 * same event id, so a retried command appends nothing twice.
 */
export function deterministicId(...parts: Array<string | number>): string {
  return uuidv5(parts.join('/'), SAGAFLOW_NAMESPACE);
}

export function eventIdFor(commandId: string, index: number): string {
  return deterministicId('event', commandId, index);
}
