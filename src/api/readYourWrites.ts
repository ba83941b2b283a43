import type { FastifyReply } from 'fastify';
import type { ReadModelRow } from './deps';
import { setTimeout as sleep } from 'node:timers/promises';

export const STALE_HEADER = 'x-read-model-stale';

/** Reached when the row reflects the position (projections store it as a decimal string). */
export function reflects(row: ReadModelRow | null | undefined, minPosition: bigint): boolean {
  if (!row) return false;
  try {
    return BigInt(String(row.lastPosition)) >= minPosition;
  } catch {
    return false;
  }
}

/**
 * Read-your-writes: with `minPosition`, polls (bounded by `waitMs`) until the read model
 * has caught up to it; if it has not, answers with what there is and marks it stale.
 */
export async function readAtLeast<Row extends ReadModelRow>(
  read: () => Promise<Row | null | undefined>,
  minPosition: string | undefined,
  waitMs: number,
  reply: FastifyReply,
): Promise<Row | null | undefined> {
  let row = await read();
  if (minPosition === undefined) return row;
  const target = BigInt(minPosition);
  const deadline = Date.now() + waitMs;
  let delay = 5;
  while (!reflects(row, target)) {
    if (Date.now() >= deadline) {
      void reply.header(STALE_HEADER, 'true');
      return row;
    }
    await sleep(Math.min(delay, Math.max(1, deadline - Date.now())));
    delay = Math.min(delay * 2, 100);
    row = await read();
  }
  return row;
}

/**
 * JSON-safe read-model row: top-level bigint → string (Dates serialise themselves). The
 * queries already return positions as strings, so this is usually a cheap no-op.
 */
export function jsonSafe<T extends object>(value: T): T {
  let copy: Record<string, unknown> | undefined;
  for (const [key, v] of Object.entries(value)) {
    if (typeof v === 'bigint')
      (copy ??= { ...(value as Record<string, unknown>) })[key] = v.toString();
  }
  return (copy ?? value) as T;
}
