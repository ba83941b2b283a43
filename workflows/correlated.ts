import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { SagaActivities } from '../activities';

/**
 * Activity stubs that add the saga's correlation id to every call, so each event a step
 * appends carries it in its metadata without every call site repeating it.
 */
export function correlatedActivities(
  options: ActivityOptions,
  correlationId: string,
): SagaActivities {
  const stubs = proxyActivities<SagaActivities>(options);
  return new Proxy(stubs, {
    get(target, name: string) {
      const stub = target[name as keyof SagaActivities] as (input: object) => Promise<unknown>;
      return (input: object) => stub({ ...input, correlationId });
    },
  });
}
