import { ACCOUNT_EVENT_SCHEMA_VERSIONS } from './account';
import { INVENTORY_EVENT_SCHEMA_VERSIONS } from './inventory';
import { ORDER_EVENT_SCHEMA_VERSIONS } from './order';
import { SHIPMENT_EVENT_SCHEMA_VERSIONS } from './shipment';
import { TRANSFER_EVENT_SCHEMA_VERSIONS } from './transfer';

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

/** Current schema version of every domain event type (all 1 today), for the event store. */
export const EVENT_SCHEMA_VERSIONS: Readonly<Record<string, number>> = Object.freeze({
  ...ACCOUNT_EVENT_SCHEMA_VERSIONS,
  ...INVENTORY_EVENT_SCHEMA_VERSIONS,
  ...ORDER_EVENT_SCHEMA_VERSIONS,
  ...SHIPMENT_EVENT_SCHEMA_VERSIONS,
  ...TRANSFER_EVENT_SCHEMA_VERSIONS,
});
