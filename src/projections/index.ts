export { ALL_PROJECTIONS } from './all';
export type { Projection, ProjectionSource } from './types';
export { generationTable } from './types';
export {
  ProjectionRunner,
  EVENTS_CHANNEL,
  failureRetryDelay,
  type ProjectionRunnerOptions,
} from './runner';
export {
  listDeadLetters,
  NotStuckOnEventError,
  RETRY_CHANNEL,
  skipStuckEvent,
  type DeadLetter,
  type SkipRequest,
} from './deadLetters';
export { createInlineProjector, type InlineProjector } from './inline';
export {
  describeHoldback,
  getCatchUpHoldback,
  getProjectionStatuses,
  type ProjectionError,
  type ProjectionState,
  type ProjectionStatus,
} from './status';
export {
  rebuildProjection,
  RebuildInProgressError,
  UnknownProjectionError,
  type RebuildOptions,
  type RebuildProgress,
  type RebuildResult,
} from './rebuild';
export { ensureProjection, projectionOwnerPid } from './checkpoints';
export { ProjectionFailedError } from './engine';
export { accountBalanceProjection } from './readModels/accountBalance';
export { inventoryLevelProjection } from './readModels/inventoryLevel';
export { orderSummaryProjection } from './readModels/orderSummary';
export { transferSummaryProjection } from './readModels/transferSummary';
export * from './queries';
