import { ALL_PROJECTIONS } from '../projections/all';

/** The registered projections that skip archived streams (Projection.liveOnly). */
export const liveOnlyProjectionNames = (): string[] =>
  ALL_PROJECTIONS.filter((projection) => projection.liveOnly).map((projection) => projection.name);
