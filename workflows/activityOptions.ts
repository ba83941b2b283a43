import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';
import type { SagaSettings } from './definitions';

/** Business rejections (ApplicationFailure types) that retrying cannot fix. */
export const NON_RETRYABLE_ERROR_TYPES = ['DomainRejection'] as const;

/**
 * What a step's options say: its attempt timeout and retry policy. Both regular and local
 * activities take them with the same meaning (workflows/correlated.ts picks the kind).
 */
export type StepOptions = Pick<ActivityOptions, 'startToCloseTimeout' | 'retry'> &
  Pick<LocalActivityOptions, 'startToCloseTimeout' | 'retry'>;

/** The shape every saga activity shares: one attempt timeout, exponential backoff from 200 ms. */
function activityOptions(
  settings: SagaSettings,
  retry: { maximumInterval: string; maximumAttempts?: number; businessRejectionsAreFinal: boolean },
): StepOptions {
  return {
    startToCloseTimeout: settings.activityStartToClose,
    retry: {
      initialInterval: '200ms',
      backoffCoefficient: 2,
      maximumInterval: retry.maximumInterval,
      ...(retry.maximumAttempts !== undefined && { maximumAttempts: retry.maximumAttempts }),
      ...(retry.businessRejectionsAreFinal && {
        nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES],
      }),
    },
  };
}

/** Steps before the pivot: retry infrastructure errors with backoff, never business rejections. */
export function stepOptions(settings: SagaSettings): StepOptions {
  return activityOptions(settings, {
    maximumInterval: '10s',
    maximumAttempts: settings.activityMaxAttempts,
    businessRejectionsAreFinal: true,
  });
}

/**
 * Steps after the pivot only move forward: infrastructure errors retry until they succeed
 * (no attempt limit). A business rejection ends the attempts: retrying gets the same answer,
 * so the saga parks for an operator instead (workflows/forwardSteps.ts).
 */
export function forwardOptions(settings: SagaSettings): StepOptions {
  return activityOptions(settings, { maximumInterval: '30s', businessRejectionsAreFinal: true });
}

/** Compensations retry hard, then park the saga for an operator (never swallowed). */
export function compensationOptions(settings: SagaSettings): StepOptions {
  return activityOptions(settings, {
    maximumInterval: '10s',
    maximumAttempts: settings.compensationMaxAttempts,
    businessRejectionsAreFinal: false,
  });
}

/**
 * The pivot retries infrastructure errors without limit: after a timeout its effect may or
 * may not have committed, and guessing either way loses or duplicates money. Only a business
 * rejection, which is definitive, ends it.
 */
export function pivotOptions(settings: SagaSettings): StepOptions {
  return activityOptions(settings, { maximumInterval: '30s', businessRejectionsAreFinal: true });
}
