import type { Command, Decider } from '../domain/decider';
import { DomainRejection, isRejection } from '../domain/decider';
import {
  eventIdFor,
  loadAggregate,
  snapshotIfDue,
  WrongExpectedVersionError,
  type DomainEvent,
  type EventStore,
  type RecordedEvent,
} from '../eventstore';

export interface CommandContext {
  /** Stable across retries (e.g. workflow id + step): event ids derive from it. */
  commandId: string;
  correlationId?: string;
  /** What caused this command; defaults to the command id. */
  causationId?: string;
}

export interface CommandResult<State> {
  streamId: string;
  state: State;
  /** Stream version after the command (unchanged for a no-op). */
  version: number;
  /** Global position of the last event written by this command, if any. */
  lastPosition: bigint | undefined;
  /**
   * The events this command produced (also when an earlier attempt wrote them). After a
   * fresh append they are read back only when an `afterAppend` hook needs them.
   */
  events: RecordedEvent[];
  /** The decider found nothing to do. */
  noop: boolean;
  /** An earlier attempt of this same command already appended its events. */
  alreadyApplied: boolean;
}

export interface CommandHandlerOptions {
  /** Attempts when another writer moved the stream between load and append. */
  maxConflictRetries?: number;
  /** Called with a command's new events after they are stored (inline projections). */
  afterAppend?: (events: RecordedEvent[]) => Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs one command against one aggregate: load (snapshot + tail), decide, append with the
 * loaded version as the expected version. A version conflict means someone else wrote in
 * between: reload and decide again, with bounded, jittered backoff.
 */
export class CommandHandler {
  private readonly maxConflictRetries: number;

  constructor(
    private readonly store: EventStore,
    private readonly options: CommandHandlerOptions = {},
  ) {
    this.maxConflictRetries = options.maxConflictRetries ?? 8;
  }

  /** The last command queued per stream in this process (see handle). */
  private readonly streamQueues = new Map<string, Promise<unknown>>();

  /**
   * Commands for one stream run one at a time within this process: on a hot aggregate
   * (the merchant's revenue account, a popular SKU) concurrent commands would otherwise
   * all load the same version, collide on append and back off. Across processes the
   * expected-version check still decides.
   */
  async handle<State, Cmd extends Command, Event extends DomainEvent>(
    decider: Decider<State, Cmd, Event>,
    aggregateId: string,
    command: Cmd,
    context: CommandContext,
  ): Promise<CommandResult<State>> {
    const streamId = decider.streamId(aggregateId);
    const previous = this.streamQueues.get(streamId) ?? Promise.resolve();
    const run = previous.then(
      () => this.handleNow(decider, streamId, command, context),
      () => this.handleNow(decider, streamId, command, context),
    );
    this.streamQueues.set(streamId, run);
    try {
      return await run;
    } finally {
      if (this.streamQueues.get(streamId) === run) this.streamQueues.delete(streamId);
    }
  }

  private async handleNow<State, Cmd extends Command, Event extends DomainEvent>(
    decider: Decider<State, Cmd, Event>,
    streamId: string,
    command: Cmd,
    context: CommandContext,
  ): Promise<CommandResult<State>> {
    const metadata = {
      correlation_id: context.correlationId ?? context.commandId,
      causation_id: context.causationId ?? context.commandId,
      command_id: context.commandId,
      command_type: command.type,
    };

    for (let attempt = 0; ; attempt++) {
      // Personal data stays sealed: deciders never decide on it (and snapshots never hold it).
      const loaded = await loadAggregate(this.store, streamId, decider, {
        sealedPersonalData: true,
      });
      // A retry of a command whose append already committed: answer with what it wrote.
      // (Older than the snapshot, it is caught by the deciders, which treat a repeated
      // business reference as done, and by the append, which ignores known event ids.)
      const earlier = loaded.tail.filter(
        (event) => event.metadata.command_id === context.commandId,
      );
      if (earlier.length > 0) {
        return {
          streamId,
          state: loaded.state,
          version: loaded.version,
          lastPosition: earlier[earlier.length - 1]?.globalPosition,
          events: earlier,
          noop: false,
          alreadyApplied: true,
        };
      }

      const decision = decider.decide(command, loaded.state);
      if (isRejection(decision)) throw decision;
      if (decision.length === 0) {
        return {
          streamId,
          state: loaded.state,
          version: loaded.version,
          lastPosition: undefined,
          events: [],
          noop: true,
          alreadyApplied: false,
        };
      }

      try {
        const result = await this.store.append(
          streamId,
          decision.map((event, index) => ({
            eventId: eventIdFor(context.commandId, index),
            type: event.type,
            data: event.data,
          })),
          { expectedVersion: loaded.version, streamType: decider.streamType, metadata },
        );
        const state = decision.reduce(decider.evolve, loaded.state);
        await snapshotIfDue(
          this.store,
          streamId,
          decider,
          state,
          loaded.version,
          result.nextExpectedVersion,
        );
        // Read back only for an inline projector: a saga step needs just version and position.
        const events = this.options.afterAppend
          ? await this.store.readStream(streamId, {
              fromVersion: result.nextExpectedVersion - decision.length + 1,
              toVersion: result.nextExpectedVersion,
            })
          : [];
        if (!result.duplicate) await this.options.afterAppend?.(events);
        return {
          streamId,
          state,
          version: result.nextExpectedVersion,
          lastPosition: result.lastPosition,
          events,
          noop: false,
          alreadyApplied: result.duplicate,
        };
      } catch (error) {
        if (!(error instanceof WrongExpectedVersionError) || attempt >= this.maxConflictRetries)
          throw error;
        // Full jitter: spreads out writers that collided so they do not collide again.
        await sleep(Math.random() * Math.min(250, 5 * 2 ** attempt));
      }
    }
  }
}

export { DomainRejection };
