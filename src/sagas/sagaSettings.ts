import type { Config } from '../config';
import type { SagaSettings } from '../../workflows/definitions';

/** The configured timeouts and retry limits, fixed into each saga's input when it starts. */
export function sagaSettingsFrom(
  config: Pick<
    Config,
    | 'ACTIVITY_START_TO_CLOSE'
    | 'ACTIVITY_MAX_ATTEMPTS'
    | 'COMPENSATION_MAX_ATTEMPTS'
    | 'SAGA_LOCAL_ACTIVITIES'
  >,
): SagaSettings {
  return {
    activityStartToClose: config.ACTIVITY_START_TO_CLOSE,
    activityMaxAttempts: config.ACTIVITY_MAX_ATTEMPTS,
    compensationMaxAttempts: config.COMPENSATION_MAX_ATTEMPTS,
    localActivities: config.SAGA_LOCAL_ACTIVITIES === 'on',
  };
}
