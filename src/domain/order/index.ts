import type { Decider } from '../decider';
import { type OrderCommand, decideOrder } from './businessLogic';
import {
  ORDER_EVENT_SCHEMA_VERSIONS,
  ORDER_STATE_SCHEMA_VERSION,
  ORDER_STREAM_TYPE,
  orderStreamId,
  type OrderEvent,
  type OrderState,
  evolveOrder,
  initialOrderState,
} from './order';

export * from './businessLogic';
export * from './order';

export const orderDecider: Decider<OrderState, OrderCommand, OrderEvent> = {
  streamType: ORDER_STREAM_TYPE,
  streamId: orderStreamId,
  initialState: initialOrderState,
  evolve: evolveOrder,
  decide: decideOrder,
  // Orders rarely reach `every` events; the state schema version keeps a snapshot of an
  // older state shape (lines without currency) from being taken for the current one.
  snapshot: { every: 100, stateSchemaVersion: ORDER_STATE_SCHEMA_VERSION },
  eventSchemaVersions: ORDER_EVENT_SCHEMA_VERSIONS,
};
