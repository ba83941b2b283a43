import { ACCOUNT_EVENT_SCHEMA_VERSIONS } from './account';
import { INVENTORY_EVENT_SCHEMA_VERSIONS } from './inventory';
import { ORDER_EVENT_SCHEMA_VERSIONS } from './order';
import { SHIPMENT_EVENT_SCHEMA_VERSIONS } from './shipment';
import { TRANSFER_EVENT_SCHEMA_VERSIONS } from './transfer';
import { ACCOUNT_EVENT_SCHEMAS } from './account/eventSchemas';
import { INVENTORY_EVENT_SCHEMAS } from './inventory/eventSchemas';
import { ORDER_EVENT_SCHEMAS } from './order/eventSchemas';
import { SHIPMENT_EVENT_SCHEMAS } from './shipment/eventSchemas';
import { TRANSFER_EVENT_SCHEMAS } from './transfer/eventSchemas';
import type { EventSchemaCatalogue } from './eventSchemaTypes';

export * from './decider';
export * from './account';
export * from './inventory';
export * from './order';
export * from './shipment';
export * from './transfer';

export * as Account from './account';
export * as Inventory from './inventory';
export * as Order from './order';
export * as Shipment from './shipment';
export * as Transfer from './transfer';

/**
 * Current schema version of every domain event type: what the command handler stamps on
 * each event it appends (OrderPlaced is at 2, every other type at 1).
 */
export const EVENT_SCHEMA_VERSIONS: Readonly<Record<string, number>> = Object.freeze({
  ...ACCOUNT_EVENT_SCHEMA_VERSIONS,
  ...INVENTORY_EVENT_SCHEMA_VERSIONS,
  ...ORDER_EVENT_SCHEMA_VERSIONS,
  ...SHIPMENT_EVENT_SCHEMA_VERSIONS,
  ...TRANSFER_EVENT_SCHEMA_VERSIONS,
});

/**
 * Every version of every domain event type's data (TypeBox), with the upcasters between
 * them: what createEventStore (src/application/eventStore.ts) builds the store's registry
 * from. Workflows import domain files directly, never this index, so TypeBox stays out of
 * Temporal's sandbox.
 */
export const EVENT_SCHEMAS: EventSchemaCatalogue = Object.freeze({
  ...ACCOUNT_EVENT_SCHEMAS,
  ...INVENTORY_EVENT_SCHEMAS,
  ...ORDER_EVENT_SCHEMAS,
  ...SHIPMENT_EVENT_SCHEMAS,
  ...TRANSFER_EVENT_SCHEMAS,
});

export { upcastOrderPlacedV1 } from './order/eventSchemas';
