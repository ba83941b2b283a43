import type { Client, WorkflowExecutionStatusName, WorkflowHandle } from '@temporalio/client';
import { describeWorkflow } from '../temporal/workflowLookup';
import type { Config } from '../config';
import type { SagaResult, SagaStatus, SagaStatusView } from '../../workflows/definitions';
import { HttpProblem } from './plugins/problem';

export interface SagaReport<Status extends SagaStatus = SagaStatus> extends Partial<
  SagaStatusView<Status>
> {
  sagaId: string;
  runId?: string;
  workflowStatus: WorkflowExecutionStatusName;
  temporalUiUrl?: string;
}

export function temporalUiUrl(
  config: Pick<Config, 'TEMPORAL_UI_URL' | 'TEMPORAL_NAMESPACE'>,
  workflowId: string,
): string | undefined {
  if (!config.TEMPORAL_UI_URL) return undefined;
  const base = config.TEMPORAL_UI_URL.replace(/\/+$/, '');
  return `${base}/namespaces/${encodeURIComponent(config.TEMPORAL_NAMESPACE)}/workflows/${encodeURIComponent(workflowId)}`;
}

/**
 * The saga's own view: its `status` query (the same answer the Temporal UI's Queries tab
 * shows), falling back to its result when no worker can answer. `Status` is what the saga's
 * type reports (the saga id names its type: orderSagaId, transferSagaId).
 */
export async function sagaReport<Status extends SagaStatus>(
  client: Client,
  config: Pick<Config, 'TEMPORAL_UI_URL' | 'TEMPORAL_NAMESPACE'>,
  sagaId: string,
): Promise<SagaReport<Status> | undefined> {
  const handle = client.workflow.getHandle(sagaId);
  const described = await describeWorkflow(handle);
  if (!described) return undefined;
  const report: SagaReport<Status> = {
    sagaId,
    runId: described.runId,
    workflowStatus: described.status,
  };
  const url = temporalUiUrl(config, sagaId);
  if (url) report.temporalUiUrl = url;
  // The saga's `status` query answers the same shape whether the run is open or closed (a
  // worker replays a closed run to answer it); bounded, so a missing worker cannot hang us.
  const view = await client
    .withDeadline(Date.now() + 3_000, () => handle.query<SagaStatusView<Status>>('status'))
    .catch(() => undefined);
  if (view) {
    Object.assign(report, view);
  } else if (described.status === 'COMPLETED') {
    try {
      const result = (await handle.result()) as SagaResult<Status>;
      Object.assign(report, {
        status: result.status,
        outcome: result.outcome,
        failureReason: result.reason,
      });
    } catch {
      // Keep the execution status.
    }
  } else if (described.status !== 'RUNNING') {
    report.outcome = 'FAILED';
  }
  return report;
}

/** A handle on a saga that is still running; 404 if unknown, 409 if it already finished. */
export async function runningSaga(client: Client, sagaId: string): Promise<WorkflowHandle> {
  const handle = client.workflow.getHandle(sagaId);
  const described = await describeWorkflow(handle);
  if (!described) {
    throw new HttpProblem(404, 'Not Found', `No saga ${sagaId}`, { code: 'NOT_FOUND' });
  }
  if (described.status !== 'RUNNING') {
    throw new HttpProblem(
      409,
      'Conflict',
      `Saga ${sagaId} has already finished (${described.status})`,
      {
        code: 'SAGA_FINISHED',
      },
    );
  }
  return handle;
}
