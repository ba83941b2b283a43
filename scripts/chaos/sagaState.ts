import type { Client as TemporalClient } from '@temporalio/client';
import { SAGA_STATUS } from '../../workflows/searchAttributes';
import type { SagaResult } from '../../workflows/definitions';

export interface SagaState {
  closed: boolean;
  executionStatus: string;
  searchStatus: string | undefined;
  result?: SagaResult;
}

/** A saga as Temporal sees it: running or closed, its SagaStatus, and its result once completed. */
export async function sagaState(client: TemporalClient, sagaId: string): Promise<SagaState> {
  const handle = client.workflow.getHandle(sagaId);
  const description = await handle.describe();
  const searchStatus = description.typedSearchAttributes.get(SAGA_STATUS);
  const executionStatus = description.status.name;
  if (executionStatus === 'RUNNING') return { closed: false, executionStatus, searchStatus };
  if (executionStatus === 'COMPLETED') {
    return {
      closed: true,
      executionStatus,
      searchStatus,
      result: (await handle.result()) as SagaResult,
    };
  }
  return { closed: true, executionStatus, searchStatus };
}
