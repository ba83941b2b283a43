import type { ActivityOptions } from '@temporalio/workflow';
import type { SagaSettings } from './definitions';

/** Business rejections (ApplicationFailure types) that retrying cannot fix. */
export const NON_RETRYABLE_ERROR_TYPES = ['DomainRejection'] as const;

/** Forward steps and the pivot: retry infrastructure errors with backoff, never business rejections. */
export function stepOptions(settings: SagaSettings): ActivityOptions {
  return {
    startToCloseTimeout: settings.activityStartToClose,
    retry: {
      initialInterval: '200ms',
      backoffCoefficient: 2,
      maximumInterval: '10s',
      maximumAttempts: settings.activityMaxAttempts,
      nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES],
    },
  };
}

/** Steps after the pivot only move forward: they retry until they succeed. */
export function forwardOptions(settings: SagaSettings): ActivityOptions {
  return {
    startToCloseTimeout: settings.activityStartToClose,
    retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '30s' }, // no maximumAttempts: unlimited
  };
}

/** Compensations retry hard, then park the saga for an operator (never swallowed). */
export function compensationOptions(settings: SagaSettings): ActivityOptions {
  return {
    startToCloseTimeout: settings.activityStartToClose,
    retry: {
      initialInterval: '200ms',
      backoffCoefficient: 2,
      maximumInterval: '10s',
      maximumAttempts: settings.compensationMaxAttempts,
    },
  };
}

/**
 * The pivot retries infrastructure errors without limit: after a timeout its effect may or
 * may not have committed, and guessing either way loses or duplicates money. Only a business
 * rejection, which is definitive, ends it.
 */
export function pivotOptions(settings: SagaSettings): ActivityOptions {
  return {
    startToCloseTimeout: settings.activityStartToClose,
    retry: {
      initialInterval: '200ms',
      backoffCoefficient: 2,
      maximumInterval: '30s',
      nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES],
    },
  };
}
