import {
  getAccountBalance,
  getInventoryLevel,
  getOrderSummary,
  getProjectionStatuses,
  getTransferSummary,
  listDeadLetters,
  listOrderSummaries,
  rebuildProjection,
  skipStuckEvent,
} from '../projections';
import type { EventStore } from '../eventstore';
import type { ReadModels } from './deps';

/** The read models of src/projections, as the API consumes them; rebuilds read through `eventStore`. */
export const projectionReadModels = (eventStore: EventStore): ReadModels => ({
  getOrderSummary,
  listOrderSummaries,
  getAccountBalance,
  getInventoryLevel,
  getTransferSummary,
  getProjectionStatuses: (pool) => getProjectionStatuses(pool),
  rebuildProjection: (pool, name) => rebuildProjection({ pool, eventStore }, name),
  skipProjectionEvent: (pool, name, request) => skipStuckEvent({ pool, eventStore }, name, request),
  listDeadLetters: (pool, name) => listDeadLetters(pool, name),
});
