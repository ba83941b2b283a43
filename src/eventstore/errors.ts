import type { ExpectedVersion } from './types';

export class WrongExpectedVersionError extends Error {
  override readonly name = 'WrongExpectedVersionError';
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedVersion,
    readonly actual: number,
  ) {
    super(`Stream ${streamId}: expected version ${String(expected)}, actual ${actual}`);
  }
}

/** A retry that resends only part of an earlier batch: the caller changed its mind. */
export class PartialDuplicateAppendError extends Error {
  override readonly name = 'PartialDuplicateAppendError';
}

/** The append was not the first write of its transaction (see append_to_stream). */
export class AppendNotFirstWriteError extends Error {
  override readonly name = 'AppendNotFirstWriteError';
}

/** The stream was archived (its aggregate finished long ago): it takes no more events. */
export class StreamArchivedError extends Error {
  override readonly name = 'StreamArchivedError';
  constructor(readonly streamId: string) {
    super(`Stream ${streamId} is archived: it takes no more events`);
  }
}
