import type { Pool } from 'pg';
import { EVENT_SCHEMAS, EVENT_SCHEMA_VERSIONS } from '../domain';
import {
  EventSchemaRegistry,
  PostgresEventStore,
  type EventStoreHooks,
  type EventStoreOptions,
} from '../eventstore';

function domainEventSchemas(): EventSchemaRegistry {
  const registry = new EventSchemaRegistry(EVENT_SCHEMAS);
  // What deciders declare is what the store writes: the two lists must agree.
  const declared = Object.entries(EVENT_SCHEMA_VERSIONS);
  const known = new Set(declared.map(([type]) => type));
  for (const [type, version] of declared) {
    if (registry.currentVersion(type) !== version) {
      throw new Error(
        `Event ${type}: its decider declares schema version ${version}, its schemas reach ${String(registry.currentVersion(type))}`,
      );
    }
  }
  for (const { type } of registry.catalogue()) {
    if (!known.has(type)) throw new Error(`Event ${type}: a schema but no decider declares it`);
  }
  return registry;
}

/** Every domain event type and version with its schema and upcasters. */
export const DOMAIN_EVENT_SCHEMAS: EventSchemaRegistry = domainEventSchemas();

/**
 * The event store of every process, built by the composition root (src/system/createSystem.ts)
 * with the process's metrics hooks, and by tests and tools over a pool of their own:
 * domain events are written at their declared schema version, checked against their schema,
 * and read back upcast to the current version.
 */
export function createEventStore(
  pool: Pool,
  options: { hooks?: EventStoreHooks } & Omit<EventStoreOptions, 'schemas'> = {},
): PostgresEventStore {
  const { hooks, ...storeOptions } = options;
  return new PostgresEventStore(pool, DOMAIN_EVENT_SCHEMAS.upcasters, hooks, {
    ...storeOptions,
    schemas: DOMAIN_EVENT_SCHEMAS,
  });
}
