import { setTimeout as sleep } from 'node:timers/promises';
import type { Command, Decider } from '../domain/decider';
import { DomainRejection, isRejection } from '../domain/decider';
import type { Config } from '../config';
import {
  AggregateCache,
  DEFAULT_AGGREGATE_CACHE_SIZE,
  type CachedAggregate,
} from './aggregateCache';
import { shredderOf, type CryptoShredder } from '../eventstore/personalData/cryptoShredder';
import {
  eventIdFor,
  loadAggregate,
  PartialDuplicateAppendError,
  snapshotIfDue,
  UndeclaredEventTypeError,
  WrongExpectedVersionError,
  type AggregateDefinition,
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
  /** Streams whose state this process remembers between commands (0: load every time). */
  aggregateCacheSize?: number;
  /** Overrides the snapshot interval of every aggregate that takes snapshots. */
  snapshotEvery?: number;
}

/** The handler's settings from the configuration (SNAPSHOT_EVERY, AGGREGATE_CACHE_SIZE). */
export function commandHandlerSettings(
  config: Pick<Config, 'SNAPSHOT_EVERY' | 'AGGREGATE_CACHE_SIZE'>,
): Pick<CommandHandlerOptions, 'snapshotEvery' | 'aggregateCacheSize'> {
  return { snapshotEvery: config.SNAPSHOT_EVERY, aggregateCacheSize: config.AGGREGATE_CACHE_SIZE };
}

/** Events one command appends at most (deciders emit one or two): bounds the id lookup. */
const MAX_EVENTS_PER_COMMAND = 8;

/** The answer to a retry whose first attempt committed: what it wrote, state as loaded. */
function alreadyAppliedResult<State>(
  streamId: string,
  loaded: { state: State; version: number },
  written: RecordedEvent[],
): CommandResult<State> {
  return {
    streamId,
    state: loaded.state,
    version: loaded.version,
    lastPosition: written[written.length - 1]?.globalPosition,
    events: written,
    noop: false,
    alreadyApplied: true,
  };
}

/** The version the decider declares for an event type: what is stored with the event. */
function declaredSchemaVersion(decider: { eventSchemaVersions: object }, type: string): number {
  const versions = decider.eventSchemaVersions as Readonly<Record<string, number>>;
  const version = Object.hasOwn(versions, type) ? versions[type] : undefined;
  if (version === undefined) {
    throw new UndeclaredEventTypeError(type);
  }
  return version;
}

type CommandMetadataColumns = {
  correlation_id: string;
  causation_id: string;
  command_id: string;
  command_type: string;
};

/**
 * Runs one command against one aggregate: load (snapshot + tail), decide, append with the
 * loaded version as the expected version. A version conflict means someone else wrote in
 * between: reload and decide again, with bounded, jittered backoff.
 *
 * The state a command leaves behind is remembered (AggregateCache), so the next command on
 * that stream in this process decides without loading. Only an append can trust that
 * memory, because its expected version proves nobody wrote since; a conflict, a rejection,
 * nothing to do, a retried command or any error forgets the stream and takes the path
 * above, so every answer is the one a fresh load would give.
 *
 * That memory is the state a fresh load builds, personal fields sealed: a decision is sealed
 * before it is appended and folded as stored, so no name or address outlives its key here.
 */
export class CommandHandler {
  private readonly maxConflictRetries: number;
  private readonly cache: AggregateCache;
  /** Seals personal fields before they are appended, so memory holds them as a load would. */
  private readonly personalData: CryptoShredder | undefined;

  constructor(
    private readonly store: EventStore,
    private readonly options: CommandHandlerOptions = {},
  ) {
    this.maxConflictRetries = options.maxConflictRetries ?? 8;
    this.cache = new AggregateCache(options.aggregateCacheSize ?? DEFAULT_AGGREGATE_CACHE_SIZE);
    this.personalData = shredderOf(store);
  }

  /** What this process remembers of a stream (tests, diagnostics): a fresh sealed load's state. */
  remembered(streamId: string): { state: unknown; version: number } | undefined {
    const entry = this.cache.get(streamId);
    return entry && { state: entry.state, version: entry.version };
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
    const metadata: CommandMetadataColumns = {
      correlation_id: context.correlationId ?? context.commandId,
      causation_id: context.causationId ?? context.commandId,
      command_id: context.commandId,
      command_type: command.type,
    };
    const cached = this.cache.get(streamId);
    if (cached && !cached.commands.has(context.commandId)) {
      const result = await this.tryOnRememberedState(decider, streamId, command, metadata, cached);
      if (result) return result;
    }
    this.cache.forget(streamId);
    return this.handleOnLoadedState(decider, streamId, command, metadata);
  }

  /** Undefined when the remembered state could not be trusted: the caller loads instead. */
  private async tryOnRememberedState<State, Cmd extends Command, Event extends DomainEvent>(
    decider: Decider<State, Cmd, Event>,
    streamId: string,
    command: Cmd,
    metadata: CommandMetadataColumns,
    cached: CachedAggregate,
  ): Promise<CommandResult<State> | undefined> {
    const state = cached.state as State;
    const decision = decider.decide(command, state);
    // A rejection or "nothing to do" has no append to prove the state was current.
    if (isRejection(decision) || decision.length === 0) return undefined;
    try {
      const result = await this.appendDecision(decider, streamId, decision, metadata, {
        ...cached,
        state,
      });
      // Already appended by an attempt this process does not remember: answer as a load would.
      return result.alreadyApplied ? undefined : result;
    } catch (error) {
      if (error instanceof WrongExpectedVersionError) return undefined;
      if (error instanceof PartialDuplicateAppendError) return undefined;
      throw error;
    }
  }

  private async handleOnLoadedState<State, Cmd extends Command, Event extends DomainEvent>(
    decider: Decider<State, Cmd, Event>,
    streamId: string,
    command: Cmd,
    metadata: CommandMetadataColumns,
  ): Promise<CommandResult<State>> {
    for (let attempt = 0; ; attempt++) {
      // Personal data stays sealed: deciders never decide on it (and snapshots never hold it).
      const loaded = await loadAggregate(this.store, streamId, decider, {
        sealedPersonalData: true,
      });
      const commands = new Map<string, number>();
      for (const event of loaded.tail) {
        const id = event.metadata.command_id;
        if (typeof id === 'string') commands.set(id, event.version);
      }
      const remembered = {
        state: loaded.state,
        version: loaded.version,
        snapshotVersion: loaded.snapshotVersion ?? 0,
        commands,
      };
      this.cache.set(streamId, remembered);

      // A retry of a command whose append already committed: answer with what it wrote.
      // Older than the snapshot, it is caught by the append, which ignores known event ids,
      // and, when its decision now is a rejection (the balance moved on, its reference left
      // the account's window), by looking its event ids up below. So a retry, however late,
      // never applies twice and never turns into a refusal of what was done.
      const earlier = loaded.tail.filter(
        (event) => event.metadata.command_id === metadata.command_id,
      );
      if (earlier.length > 0) return alreadyAppliedResult(streamId, loaded, earlier);

      const decision = decider.decide(command, loaded.state);
      if (isRejection(decision)) {
        const written = await this.eventsOfCommand(streamId, metadata.command_id);
        if (written.length > 0) return alreadyAppliedResult(streamId, loaded, written);
        throw decision;
      }
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
        return await this.appendDecision(decider, streamId, decision, metadata, remembered);
      } catch (error) {
        if (!(error instanceof WrongExpectedVersionError) || attempt >= this.maxConflictRetries)
          throw error;
        // Full jitter: spreads out writers that collided so they do not collide again.
        await sleep(Math.random() * Math.min(250, 5 * 2 ** attempt));
      }
    }
  }

  /** The events an earlier attempt of this command appended (none: it never committed). */
  private async eventsOfCommand(streamId: string, commandId: string): Promise<RecordedEvent[]> {
    const ids = Array.from({ length: MAX_EVENTS_PER_COMMAND }, (_, index) =>
      eventIdFor(commandId, index),
    );
    return this.store.readEventsById(streamId, ids);
  }

  /**
   * The decision with its personal fields sealed, as the store will keep them (the store
   * then finds nothing left to seal). Decisions without personal data pass through free.
   */
  private async sealed<Event extends DomainEvent>(
    decision: readonly Event[],
  ): Promise<readonly Event[]> {
    const shredder = this.personalData;
    if (!shredder?.holdsPersonalData(decision)) return decision;
    return shredder.protect(decision);
  }

  private withSnapshotInterval<State, Event extends DomainEvent>(
    definition: AggregateDefinition<State, Event>,
  ): AggregateDefinition<State, Event> {
    const every = this.options.snapshotEvery;
    if (!definition.snapshot || every === undefined) return definition;
    return { ...definition, snapshot: { ...definition.snapshot, every } };
  }

  /**
   * Appends a decision taken on `base` with its version as the expected version, and
   * remembers the resulting state. Forgets the stream when anything goes wrong.
   */
  private async appendDecision<State, Cmd extends Command, Event extends DomainEvent>(
    decider: Decider<State, Cmd, Event>,
    streamId: string,
    decision: readonly Event[],
    metadata: CommandMetadataColumns,
    base: CachedAggregate & { state: State },
  ): Promise<CommandResult<State>> {
    try {
      const stored = await this.sealed(decision);
      const result = await this.store.append(
        streamId,
        stored.map((event, index) => ({
          eventId: eventIdFor(metadata.command_id, index),
          type: event.type,
          data: event.data,
          schemaVersion: declaredSchemaVersion(decider, event.type),
        })),
        { expectedVersion: base.version, streamType: decider.streamType, metadata },
      );
      // Folded from the events as stored: memory and snapshots hold what a sealed load would.
      const state = stored.reduce(decider.evolve, base.state);
      if (result.duplicate) {
        // An earlier attempt wrote these events, maybe before others that `base` lacks:
        // neither remember nor snapshot a state built on it.
        this.cache.forget(streamId);
      } else {
        // Counted from the usable snapshot, not the loaded version: a stream whose snapshot
        // is of an older state schema (ignored) is snapshotted again on its first append
        // instead of replaying in full until the next multiple of the interval.
        const snapshotted = await snapshotIfDue(
          this.store,
          streamId,
          this.withSnapshotInterval(decider),
          state,
          base.snapshotVersion,
          result.nextExpectedVersion,
        );
        // A snapshot at the new head leaves a fresh load no tail, hence no commands to find.
        const commands = snapshotted ? new Map<string, number>() : new Map(base.commands);
        if (!snapshotted) commands.set(metadata.command_id, result.nextExpectedVersion);
        this.cache.set(streamId, {
          state,
          version: result.nextExpectedVersion,
          snapshotVersion: snapshotted ? result.nextExpectedVersion : base.snapshotVersion,
          commands,
        });
      }
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
      this.cache.forget(streamId);
      throw error;
    }
  }
}

export { DomainRejection };
