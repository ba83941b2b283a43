import { setTimeout as sleep } from 'node:timers/promises';
import '../api/support/esmShim';
import { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { withFaultInjection } from '../../activities/faultInjection';
import { buildApp } from '../../src/api/app';
import { projectionReadModels } from '../../src/api/projectionReadModels';
import { CommandHandler, commandHandlerSettings } from '../../src/application/commandHandler';
import { DirectCommands } from '../../src/application/directCommands';
import { AbandonedSagaReconciler } from '../../src/application/abandonedSagaReconciler';
import { OrphanedOrderReconciler } from '../../src/application/orphanedOrderReconciler';
import { loadConfig, type Config } from '../../src/config';
import { ProjectionRunner } from '../../src/projections';
import { createSagaWorker, sagaWorkerParts } from '../../src/worker/createWorker';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';
import { bundleWorkflows, connectTestTemporal, uniqueTaskQueue } from '../support/temporal';

export const MERCHANT = 'merchant-revenue';
/** Orders at or above this total (minor units) wait for approval. */
export const APPROVAL_THRESHOLD = 5_000;

/** Shared by every run of a test file: the dev server connection and the workflow bundle. */
export interface SharedInfrastructure {
  env: TestWorkflowEnvironment;
  bundle: WorkflowBundleWithSourceMap;
}

export async function connectInfrastructure(): Promise<SharedInfrastructure> {
  const [env, bundle] = await Promise.all([connectTestTemporal(), bundleWorkflows()]);
  return { env, bundle };
}

/**
 * One whole Sagaflow for one command sequence: a fresh database, the HTTP API (buildApp,
 * called through `inject`), a saga worker with fault injection on, the projection runner,
 * the orphaned-order and abandoned-saga reconcilers and a Temporal client, all on a task queue of their own.
 * The API and the worker each have their own command handler, as separate processes would.
 */
export class ModelSystem {
  db!: TestDatabase;
  config!: Config;
  app!: FastifyInstance;
  /** The client tests use (cancel, terminate, describe); the API has a client of its own. */
  client!: Client;
  taskQueue!: string;
  private apiClient!: Client;
  private apiCommands!: CommandHandler;
  private workerCommands!: CommandHandler;
  private worker: Worker | undefined;
  private workerRun: Promise<void> | undefined;
  private projections!: ProjectionRunner;
  private reconciler!: OrphanedOrderReconciler;
  private abandoned!: AbandonedSagaReconciler;
  /** The API's next saga starts fail this many times (Temporal unreachable). */
  private failingSagaStarts = 0;
  readonly log: string[] = [];

  constructor(private readonly infra: SharedInfrastructure) {}

  async start(): Promise<this> {
    this.db = await createTestDatabase('model');
    this.taskQueue = uniqueTaskQueue('model');
    this.config = loadConfig({
      TEMPORAL_TASK_QUEUE: this.taskQueue,
      APPROVAL_THRESHOLD: String(APPROVAL_THRESHOLD),
      APPROVAL_TIMEOUT: '3s',
      ACTIVITY_START_TO_CLOSE: '5s',
      ACTIVITY_MAX_ATTEMPTS: '4',
      COMPENSATION_MAX_ATTEMPTS: '3',
      MERCHANT_ACCOUNT_ID: MERCHANT,
      UNSERVED_COUNTRIES: 'KP',
      FAULT_INJECTION: 'enabled',
      LOG_LEVEL: 'silent',
      API_KEYS: '',
      // Snapshots every few events: loads go through snapshot + tail.
      SNAPSHOT_EVERY: '3',
    });
    this.client = this.infra.env.client;
    this.apiClient = this.flakyClient();

    this.projections = new ProjectionRunner({
      pool: this.db.pool,
      eventStore: this.db.eventStore,
      pollIntervalMs: 200,
      retryBaseMs: 20,
      log: (message, error) => this.note('projections', message, error),
    });
    await this.projections.start();

    this.apiCommands = new CommandHandler(this.db.eventStore, commandHandlerSettings(this.config));
    const apiCommands = this.apiCommands;
    this.app = buildApp(
      {
        pool: this.db.pool,
        eventStore: this.db.eventStore,
        commands: apiCommands,
        temporal: this.apiClient,
        config: this.config,
        readModels: projectionReadModels(this.db.eventStore),
      },
      { logger: false, swaggerUi: false, readWaitMs: 2_000 },
    );
    await this.app.ready();

    this.workerCommands = new CommandHandler(
      this.db.eventStore,
      commandHandlerSettings(this.config),
    );
    await new DirectCommands(this.workerCommands).openAccount(
      { accountId: MERCHANT, ownerId: 'merchant' },
      { commandId: `bootstrap/merchant-account/${MERCHANT}` },
    );
    await this.startWorker();
    this.reconciler = new OrphanedOrderReconciler(
      this.db.pool,
      this.db.eventStore,
      { client: this.client, commands: this.workerCommands, config: this.config },
      {
        graceSeconds: 1,
        intervalMs: 500,
        log: (message, error) => this.note('reconciler', message, error),
      },
    );
    this.reconciler.start();
    // As the worker runs it, with a grace just above an activity attempt (5 s here, 60 s
    // by default): a terminated run's last step lands before the reconciler looks.
    this.abandoned = new AbandonedSagaReconciler(
      {
        client: this.client,
        commands: this.workerCommands,
        eventStore: this.db.eventStore,
        taskQueue: this.taskQueue,
      },
      {
        graceSeconds: 7,
        intervalMs: 1_000,
        log: (message, error) => this.note('abandoned-saga reconciler', message, error),
      },
    );
    this.abandoned.start();
    return this;
  }

  /**
   * The API's Temporal client, whose `workflow.start` can be made to fail: an order is then
   * placed but its saga not started, and the API answers 5xx (a failed first attempt).
   */
  private flakyClient(): Client {
    const client = new Client({
      connection: this.infra.env.connection,
      namespace: this.infra.env.namespace ?? 'default',
    });
    const workflows = client.workflow;
    const realStart = workflows.start.bind(workflows);
    workflows.start = ((...args: Parameters<typeof realStart>) => {
      if (this.failingSagaStarts > 0) {
        this.failingSagaStarts -= 1;
        return Promise.reject(new Error('injected: Temporal unreachable while starting the saga'));
      }
      return realStart(...args);
    }) as typeof workflows.start;
    return client;
  }

  /** The command handlers in use (their caches must not outlive an erasure). */
  get commandHandlers(): CommandHandler[] {
    return [this.apiCommands, this.workerCommands];
  }

  private note(component: string, message: string, error?: unknown): void {
    const cause = error instanceof Error ? `: ${error.message}` : '';
    this.log.push(`${component}: ${message}${cause}`);
  }

  failNextSagaStarts(count: number): void {
    this.failingSagaStarts = count;
  }

  async startWorker(): Promise<void> {
    // Wired as production wires it (guard, converter, interceptors), with fault injection.
    const parts = sagaWorkerParts({
      commands: this.workerCommands,
      eventStore: this.db.eventStore,
      config: this.config,
      wrapActivities: (activities) => withFaultInjection(activities, this.db.pool),
    });
    this.worker = await createSagaWorker({
      connection: this.infra.env.nativeConnection,
      namespace: 'default',
      taskQueue: this.taskQueue,
      parts,
      workflowBundle: this.infra.bundle,
    });
    this.workerRun = this.worker.run();
  }

  /**
   * Stops the worker (running activities get the shutdown grace) and starts a fresh one
   * with a fresh command handler, as a restarted process would have.
   */
  async restartWorker(): Promise<void> {
    this.worker?.shutdown();
    await this.workerRun;
    this.workerCommands = new CommandHandler(
      this.db.eventStore,
      commandHandlerSettings(this.config),
    );
    await this.startWorker();
  }

  /**
   * A request as a well-behaved client sends it: a 503 (the database briefly unreachable)
   * is retried after its Retry-After, a few times, when a retry is safe: a read, or a
   * command carrying an Idempotency-Key.
   */
  async inject(options: InjectOptions): Promise<LightMyRequestResponse> {
    const headers = (options.headers ?? {}) as Record<string, unknown>;
    const retriable = (options.method ?? 'GET') === 'GET' || 'idempotency-key' in headers;
    for (let attempt = 1; ; attempt++) {
      const response = await this.app.inject(options);
      if (response.statusCode !== 503 || !retriable || attempt >= 5) return response;
      this.note('client', `503 on ${JSON.stringify(options.url)}; retrying`);
      await sleep(Math.min(1_000, Number(response.headers['retry-after'] ?? 1) * 250));
    }
  }

  async stop(): Promise<void> {
    await this.reconciler?.stop().catch(() => undefined);
    await this.abandoned?.stop().catch(() => undefined);
    await this.terminateOpenWorkflows().catch(() => undefined);
    if (this.worker?.getState() === 'RUNNING') this.worker.shutdown();
    await this.workerRun?.catch(() => undefined);
    await this.app?.close().catch(() => undefined);
    await this.projections?.stop().catch(() => undefined);
    await this.db?.drop();
  }

  /** Leaves nothing running on the shared dev server once a run is over. */
  private async terminateOpenWorkflows(): Promise<void> {
    for await (const workflow of this.client.workflow.list({
      query: `TaskQueue = "${this.taskQueue}" AND ExecutionStatus = "Running"`,
    })) {
      await this.client.workflow
        .getHandle(workflow.workflowId)
        .terminate('model run over')
        .catch(() => undefined);
    }
  }
}
