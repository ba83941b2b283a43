import type { Decider } from '../decider';
import { type OrderCommand, decideOrder } from './businessLogic';
import {
  ORDER_EVENT_SCHEMA_VERSIONS,
  ORDER_STREAM_TYPE,
  type OrderEvent,
  type OrderState,
  evolveOrder,
  initialOrderState,
} from './order';

export * from './businessLogic';
export * from './order';

export const orderDecider: Decider<OrderState, OrderCommand, OrderEvent> = {
  streamType: ORDER_STREAM_TYPE,
  streamId: (orderId) => `${ORDER_STREAM_TYPE}-${orderId}`,
  initialState: initialOrderState,
  evolve: evolveOrder,
  decide: decideOrder,
  eventSchemaVersions: ORDER_EVENT_SCHEMA_VERSIONS,
};
