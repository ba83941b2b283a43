import { patched, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { SagaActivities } from '../activities';
import {
  compensationOptions,
  forwardOptions,
  pivotOptions,
  stepOptions,
  type StepOptions,
} from './activityOptions';
import type { SagaSettings } from './definitions';

/**
 * Sagas started with `settings.localActivities` run their steps as local activities: the
 * worker runs each step inside the workflow task and records its result as a marker, instead
 * of a round trip to the server per step (schedule, dispatch, complete). The patch keeps a
 * saga on regular activities when its history began without it: one started by a newer API
 * but first run by an older worker, which ignored the setting.
 */
export const LOCAL_ACTIVITY_STEPS_PATCH = 'local-activity-steps';

/** A saga's steps as the workflow calls them, whichever kind of activity runs them. */
export type SagaSteps = {
  [K in keyof SagaActivities]: (
    input: Parameters<SagaActivities[K]>[0],
  ) => ReturnType<SagaActivities[K]>;
};

/** The saga's activity stubs, one per retry policy (./activityOptions.ts). */
export interface SagaStepStubs {
  /** Before the pivot: a business rejection is final, attempts are limited. */
  steps: SagaSteps;
  /** After the pivot: only forward, retried without limit. */
  forward: SagaSteps;
  /** Compensations: retried hard, then parked. */
  undo: SagaSteps;
  /** The pivot: retried without limit, never guessed. */
  pivot: SagaSteps;
}

/**
 * The stubs a saga calls its steps through. Every call carries the saga's correlation id, so
 * each event a step appends has it in its metadata without every call site repeating it.
 * Call once, at the start of the workflow: it may issue the patch marker.
 */
export function sagaStepStubs(settings: SagaSettings, correlationId: string): SagaStepStubs {
  const local = settings.localActivities === true && patched(LOCAL_ACTIVITY_STEPS_PATCH);
  const stubs = (options: StepOptions): SagaSteps =>
    correlated(
      local
        ? proxyLocalActivities<SagaActivities>(options)
        : proxyActivities<SagaActivities>(options),
      correlationId,
    );
  return {
    steps: stubs(stepOptions(settings)),
    forward: stubs(forwardOptions(settings)),
    undo: stubs(compensationOptions(settings)),
    pivot: stubs(pivotOptions(settings)),
  };
}

function correlated(stubs: SagaSteps, correlationId: string): SagaSteps {
  return new Proxy(stubs, {
    get(target, name: string) {
      const stub = target[name as keyof SagaSteps] as (input: object) => Promise<unknown>;
      return (input: object) => stub({ ...input, correlationId });
    },
  });
}
