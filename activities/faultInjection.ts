import { Context } from '@temporalio/activity';
import type { SqlExecutor } from '../src/eventstore';
import type { SagaActivities } from './index';
import { setTimeout as sleep } from 'node:timers/promises';

export type FaultMode = 'fail' | 'fail_after_effect' | 'delay_before_effect' | 'delay_after_effect';

interface ArmedFault {
  mode: FaultMode;
  delay_ms: number;
}

/**
 * Wraps every activity so faults armed in the `fault_injections` table fire on real
 * workers: an attempt that fails before or after its effect committed, or one that stalls
 * past its timeout before or after its effect (a zombie that finishes late). For tests,
 * the chaos harness and demos of COMPENSATION_FAILED; off unless FAULT_INJECTION=enabled.
 */
export function withFaultInjection(activities: SagaActivities, db: SqlExecutor): SagaActivities {
  const wrapped: Record<string, (input: never) => Promise<unknown>> = {};
  for (const [name, run] of Object.entries(activities) as Array<
    [string, (input: never) => Promise<unknown>]
  >) {
    wrapped[name] = async (input: never) => {
      const fault = await claimFault(
        db,
        name,
        Context.current().info.workflowExecution?.workflowId ?? '',
      );
      if (!fault) return run(input);
      switch (fault.mode) {
        case 'fail':
          throw new Error(`injected fault: ${name} failed before its effect`);
        case 'fail_after_effect':
          await run(input);
          throw new Error(`injected fault: ${name} failed after its effect committed`);
        case 'delay_before_effect':
          await sleep(fault.delay_ms);
          return run(input);
        case 'delay_after_effect': {
          const result = await run(input);
          await sleep(fault.delay_ms);
          return result;
        }
      }
    };
  }
  return wrapped as unknown as SagaActivities;
}

async function claimFault(
  db: SqlExecutor,
  activity: string,
  workflowId: string,
): Promise<ArmedFault | undefined> {
  const result = await db.query<ArmedFault>(
    `UPDATE fault_injections SET fired = fired + 1, remaining = remaining - 1
      WHERE id = (
        SELECT id FROM fault_injections
         WHERE activity = $1
           AND (workflow_match IS NULL OR position(workflow_match IN $2) > 0)
           AND (remaining IS NULL OR remaining > 0)
         ORDER BY id LIMIT 1
         FOR UPDATE SKIP LOCKED)
      RETURNING mode, delay_ms`,
    [activity, workflowId],
  );
  return result.rows[0];
}
