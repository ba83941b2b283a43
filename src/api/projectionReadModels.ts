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
import type { ReadModels } from './deps';

/** The read models of src/projections, as the API consumes them. */
export const projectionReadModels: ReadModels = {
  getOrderSummary,
  listOrderSummaries,
  getAccountBalance,
  getInventoryLevel,
  getTransferSummary,
  getProjectionStatuses: (pool) => getProjectionStatuses(pool),
  rebuildProjection: (pool, name) => rebuildProjection(pool, name),
  skipProjectionEvent: (pool, name, request) => skipStuckEvent(pool, name, request),
  listDeadLetters: (pool, name) => listDeadLetters(pool, name),
};
