import type { DatabaseError } from 'pg';
import {
  AppendNotFirstWriteError,
  PartialDuplicateAppendError,
  StreamArchivedError,
  WrongExpectedVersionError,
} from '../errors';
import type { AppendOptions, AppendResult, NewEvent } from '../types';
import { named, type SqlExecutor } from './executor';

interface AppendRow {
  outcome: 'appended' | 'duplicate' | 'wrong_version';
  stream_version: number;
  first_position: string | null;
  last_position: string | null;
}

export function streamTypeOf(streamId: string): string {
  const dash = streamId.indexOf('-');
  return dash > 0 ? streamId.slice(0, dash) : streamId;
}

/** One round trip: the append_to_stream function checks, locks, dedupes and inserts. */
export async function appendToStream(
  db: SqlExecutor,
  streamId: string,
  events: readonly NewEvent[],
  options: AppendOptions,
): Promise<AppendResult> {
  if (events.length === 0) throw new Error(`append to ${streamId}: no events`);
  const expected = options.expectedVersion;
  if (typeof expected === 'number' && (!Number.isInteger(expected) || expected < 0)) {
    throw new Error(`append to ${streamId}: expectedVersion must be a non-negative integer`);
  }
  const unversioned = events.find((event) => event.schemaVersion === undefined);
  if (unversioned) {
    throw new Error(`append to ${streamId}: event ${unversioned.type} has no schema version`);
  }
  let result;
  try {
    result = await db.query<AppendRow>(
      named(
        'sagaflow_append_to_stream',
        'SELECT * FROM append_to_stream($1, $2, $3, $4::uuid[], $5::text[], $6::int[], $7::jsonb[], $8::jsonb[])',
        [
          streamId,
          options.streamType ?? streamTypeOf(streamId),
          String(expected),
          events.map((event) => event.eventId),
          events.map((event) => event.type),
          events.map((event) => event.schemaVersion),
          events.map((event) => JSON.stringify(event.data ?? null)),
          events.map((event) => JSON.stringify({ ...options.metadata, ...event.metadata })),
        ],
      ),
    );
  } catch (error) {
    const code = (error as DatabaseError).code;
    if (code === 'SF001') throw new AppendNotFirstWriteError((error as Error).message);
    if (code === 'SF003') throw new PartialDuplicateAppendError((error as Error).message);
    if (code === 'SF004') throw new StreamArchivedError(streamId);
    throw error;
  }
  const row = result.rows[0];
  if (!row) throw new Error('append_to_stream returned no row');
  if (row.outcome === 'wrong_version') {
    throw new WrongExpectedVersionError(streamId, expected, row.stream_version);
  }
  return {
    nextExpectedVersion: row.stream_version,
    firstPosition: BigInt(row.first_position ?? '0'),
    lastPosition: BigInt(row.last_position ?? '0'),
    duplicate: row.outcome === 'duplicate',
  };
}
