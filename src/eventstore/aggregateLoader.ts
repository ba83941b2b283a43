import type { EventStore } from './eventStore';
import type { RecordedEvent } from './types';

/** A domain event as deciders see it: no storage details. */
export interface DomainEvent<Type extends string = string, Data = unknown> {
  type: Type;
  data: Data;
}

/** How to fold a stream into state, and when to cache that state as a snapshot. */
export interface AggregateDefinition<State, Event extends DomainEvent = DomainEvent> {
  streamType: string;
  initialState: () => State;
  evolve: (state: State, event: Event) => State;
  snapshot?: {
    /** Take a snapshot every N events. */
    every: number;
    /** Bump when State's shape changes: stale snapshots are then ignored. */
    stateSchemaVersion: number;
  };
}

export interface LoadedAggregate<State> {
  state: State;
  /** Stream version the state reflects (0: the stream does not exist). */
  version: number;
  /** Version of the snapshot the load started from, if any. */
  snapshotVersion: number | undefined;
  /** The events read after the snapshot (all of them without one). */
  tail: RecordedEvent[];
}

/** Latest snapshot (when fresh) plus the tail of the stream. */
export async function loadAggregate<State, Event extends DomainEvent>(
  store: EventStore,
  streamId: string,
  definition: AggregateDefinition<State, Event>,
  options: { sealedPersonalData?: boolean } = {},
): Promise<LoadedAggregate<State>> {
  let state = definition.initialState();
  let version = 0;
  let snapshotVersion: number | undefined;
  let tail: RecordedEvent[];
  if (definition.snapshot) {
    const read = await store.readSnapshotAndTail(
      streamId,
      definition.snapshot.stateSchemaVersion,
      options,
    );
    if (read.snapshot) {
      state = read.snapshot.state as State;
      version = read.snapshot.version;
      snapshotVersion = read.snapshot.version;
    }
    tail = read.tail;
  } else {
    tail = await store.readStream(streamId, { sealedPersonalData: options.sealedPersonalData });
  }
  for (const event of tail) {
    state = definition.evolve(state, { type: event.type, data: event.data } as Event);
    version = event.version;
  }
  return { state, version, snapshotVersion, tail };
}

/** Writes a snapshot when the append crossed a multiple of `every`. */
export async function snapshotIfDue<State>(
  store: EventStore,
  streamId: string,
  definition: AggregateDefinition<State, never>,
  state: State,
  previousVersion: number,
  newVersion: number,
): Promise<boolean> {
  const policy = definition.snapshot;
  if (!policy) return false;
  if (Math.floor(newVersion / policy.every) <= Math.floor(previousVersion / policy.every))
    return false;
  await store.writeSnapshot({
    streamId,
    streamType: definition.streamType,
    version: newVersion,
    stateSchemaVersion: policy.stateSchemaVersion,
    state,
  });
  return true;
}
