import type { Client } from '@temporalio/client';
import path from 'node:path';
import {
  bundleWorkflowCode,
  NativeConnection,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { startTemporalDevServer } from '../../src/infra/temporalDevServer';
import { cpuPerUnit, sampleCpu, settle, type CpuTotals } from './cpuAccounting';
import { createProgress } from './progress';

export interface WorkflowBatch {
  elapsedMs: number;
  /** Per workflow, from its start to its completion. */
  latenciesMs: number[];
  /** CPU milliseconds per workflow, by process. */
  cpuMs: CpuTotals;
}

export interface BatchWorker {
  taskQueue: string;
  bundle: WorkflowBundleWithSourceMap;
  activities: object;
}

/** Starts one workflow and returns its id; made for each batch's own client. */
export type StartWorkflow = (client: Client) => () => Promise<string>;

const WARM_UP = 10;

/**
 * Runs `count` workflows at once on a Temporal dev server of their own, and times them.
 *
 * The dev server keeps every workflow in an in-memory SQLite database and grows slower as
 * it fills: a batch of 200 late in a run cost it about 1.5x the CPU of the first. Sharing
 * one server across batches would charge whichever side ran later. So each batch gets a
 * fresh server, warms up, runs, then waits for the processes to go idle, so that the work a
 * batch leaves behind (visibility updates) is counted for it.
 */
export async function runWorkflowBatch(
  label: string,
  count: number,
  start: StartWorkflow,
  worker: BatchWorker,
): Promise<WorkflowBatch> {
  const server = await startTemporalDevServer({
    cliPath: process.env.TEMPORAL_CLI_PATH,
    ui: false,
  });
  const connection = await NativeConnection.connect({ address: server.address });
  try {
    const running = await Worker.create({
      connection,
      taskQueue: worker.taskQueue,
      workflowBundle: worker.bundle,
      activities: worker.activities,
      maxConcurrentActivityTaskExecutions: 200,
    });
    const client = server.env.client;
    const startOne = start(client);
    const runOne = async () => {
      await client.workflow.getHandle(await startOne()).result();
    };
    return await running.runUntil(async () => {
      await Promise.all(Array.from({ length: WARM_UP }, runOne));
      await settle();
      const progress = createProgress(label, count);
      const cpuBefore = sampleCpu();
      const began = performance.now();
      const latenciesMs = await Promise.all(
        Array.from({ length: count }, async () => {
          const t0 = performance.now();
          await runOne();
          progress.tick();
          return performance.now() - t0;
        }),
      );
      const elapsedMs = performance.now() - began;
      progress.done();
      await settle();
      const cpu = cpuPerUnit(cpuBefore, sampleCpu(), count);
      return {
        elapsedMs,
        latenciesMs,
        cpuMs: {
          worker: cpu.worker * 1000,
          temporal: cpu.temporal * 1000,
          postgres: cpu.postgres * 1000,
        },
      };
    });
  } finally {
    await connection.close();
    await server.stop();
  }
}

/** Workflows each batch runs: its warm-up plus `count`. */
export const workflowsPerBatch = (count: number) => count + WARM_UP;

/** The bench's one workflow bundle (the real sagas, the no-op baseline, the shape workflow), built quietly. */
export function bundleBenchWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath: path.join(__dirname, '..', 'fixtures', 'workflows.ts'),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} },
  });
}
