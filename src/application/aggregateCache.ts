/**
 * What the command handler remembers of a stream it loaded or wrote: the state at a
 * version, and the commands applied since the stream's last snapshot (as a fresh load's
 * tail would show them). A saga touches the same few aggregates step after step (its
 * order, its shipment, a hot SKU, the merchant's account); remembering them saves each
 * step the load, which is most of its database work.
 *
 * The memory is only ever a guess. The command handler decides on it only to append, and
 * the append's expected version proves the guess was current; any other outcome (a
 * conflict, a rejection, nothing to do, a retried command, an error) forgets the stream
 * and decides again on a fresh load. See CommandHandler.handle.
 */
export interface CachedAggregate {
  state: unknown;
  version: number;
  /**
   * Version of the stream's usable snapshot (0: none, or only one of an older state schema):
   * a stream that had to replay far past it is snapshotted on its next append.
   */
  snapshotVersion: number;
  /** Command id -> version of its last event, for commands after the last snapshot. */
  commands: Map<string, number>;
}

/** Streams a process remembers unless AGGREGATE_CACHE_SIZE says otherwise. */
export const DEFAULT_AGGREGATE_CACHE_SIZE = 10_000;

/** Streams with more commands than this since their snapshot are loaded every time. */
export const MAX_REMEMBERED_COMMANDS = 1_000;

/** A least-recently-used map of stream id -> CachedAggregate, bounded by entry count. */
export class AggregateCache {
  private readonly entries = new Map<string, CachedAggregate>();

  /** @param capacity streams remembered per process; 0 remembers nothing. */
  constructor(readonly capacity: number) {}

  get size(): number {
    return this.entries.size;
  }

  get(streamId: string): CachedAggregate | undefined {
    const entry = this.entries.get(streamId);
    if (entry) {
      // Map keeps insertion order: re-inserting marks the entry most recently used.
      this.entries.delete(streamId);
      this.entries.set(streamId, entry);
    }
    return entry;
  }

  set(streamId: string, entry: CachedAggregate): void {
    this.entries.delete(streamId);
    if (this.capacity === 0 || entry.commands.size > MAX_REMEMBERED_COMMANDS) return;
    this.entries.set(streamId, entry);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  forget(streamId: string): void {
    this.entries.delete(streamId);
  }
}
