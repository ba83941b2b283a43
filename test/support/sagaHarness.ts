import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { ActivityDependencies, SagaActivities } from '../../activities';
import { CommandHandler, type CommandHandlerOptions } from '../../src/application/commandHandler';
import { DirectCommands } from '../../src/application/directCommands';
import {
  placeOrderAndStartSaga,
  startTransferSaga,
  type PlaceOrderRequest,
  type SagaStarterDependencies,
} from '../../src/application/sagaStarter';
import { loadConfig, type Config } from '../../src/config';
import {
  createSagaWorker,
  sagaWorkerParts,
  type SagaWorkerParts,
} from '../../src/worker/createWorker';
import type { SagaResult, SagaStatusView } from '../../workflows/definitions';
import { createTestDatabase, type TestDatabase } from './testDatabase';
import { bundleWorkflows, connectTestTemporal, uniqueTaskQueue } from './temporal';

export const MERCHANT = 'merchant-revenue';

export interface HarnessOptions {
  /**
   * Replace or wrap activities (fault injection, test/support/faults.ts). Applied where
   * production applies FAULT_INJECTION: around the activities on the event store, inside
   * the unbacked-move guard (see sagaWorkerParts).
   */
  wrapActivities?: (activities: SagaActivities) => SagaActivities;
  config?: Record<string, string>;
  /** E.g. `{ afterAppend: inlineProjector }` to keep read models up to date. */
  commandHandlerOptions?: (db: TestDatabase) => CommandHandlerOptions;
  /** E.g. an account decider with a small reference window. */
  activityDependencies?: Pick<ActivityDependencies, 'accountDecider'>;
}

/**
 * Everything a saga test needs: its own database, a task queue of its own on the shared
 * dev server, a worker wired as production wires it (sagaWorkerParts: guarded activities,
 * tolerant payload converter, workflow interceptors in the bundle), and the starters the
 * API uses.
 */
export class SagaHarness {
  db!: TestDatabase;
  env!: TestWorkflowEnvironment;
  commands!: CommandHandler;
  direct!: DirectCommands;
  config!: Config;
  taskQueue!: string;
  /** The worker's parts, built by the function the production entry points use. */
  parts!: SagaWorkerParts;
  private bundle!: WorkflowBundleWithSourceMap;
  private worker: Worker | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly label: string,
    private readonly options: HarnessOptions = {},
  ) {}

  get client(): Client {
    return this.env.client;
  }

  async start(): Promise<this> {
    this.db = await createTestDatabase(this.label);
    this.env = await connectTestTemporal();
    this.taskQueue = uniqueTaskQueue(this.label);
    this.config = loadConfig({
      TEMPORAL_TASK_QUEUE: this.taskQueue,
      APPROVAL_THRESHOLD: '50000',
      APPROVAL_TIMEOUT: '3s',
      ACTIVITY_START_TO_CLOSE: '5s',
      ACTIVITY_MAX_ATTEMPTS: '3',
      COMPENSATION_MAX_ATTEMPTS: '3',
      MERCHANT_ACCOUNT_ID: MERCHANT,
      UNSERVED_COUNTRIES: 'KP,XX',
      // No carrier here: orders complete at dispatch unless a test asks for the carrier's answer.
      DELIVERY_CONFIRMATION: 'none',
      ...this.options.config,
    });
    this.commands = new CommandHandler(
      this.db.eventStore,
      this.options.commandHandlerOptions?.(this.db),
    );
    this.direct = new DirectCommands(this.commands);
    this.parts = sagaWorkerParts({
      commands: this.commands,
      eventStore: this.db.eventStore,
      config: this.config,
      ...(this.options.wrapActivities && { wrapActivities: this.options.wrapActivities }),
      ...(this.options.activityDependencies?.accountDecider && {
        accountDecider: this.options.activityDependencies.accountDecider,
      }),
    });
    this.bundle = await bundleWorkflows();
    await this.direct.openAccount(
      { accountId: MERCHANT, ownerId: 'merchant' },
      { commandId: 'open-merchant' },
    );
    await this.startWorker();
    return this;
  }

  /** Starts a worker; `maxCachedWorkflows: 0` replays every task, catching non-determinism early. */
  async startWorker(): Promise<void> {
    this.worker = await createSagaWorker({
      connection: this.env.nativeConnection,
      namespace: 'default',
      taskQueue: this.taskQueue,
      parts: this.parts,
      workflowBundle: this.bundle,
      maxCachedWorkflows: 0,
    });
    this.running = this.worker.run();
  }

  async stopWorker(): Promise<void> {
    this.worker?.shutdown();
    await this.running;
    this.worker = undefined;
  }

  async stop(): Promise<void> {
    await this.stopWorker().catch(() => undefined);
    await this.env?.teardown();
    await this.db?.drop();
  }

  get starterDeps(): SagaStarterDependencies {
    return { client: this.client, commands: this.commands, config: this.config };
  }

  async openAccount(accountId: string, deposit = 0): Promise<void> {
    await this.direct.openAccount(
      { accountId, ownerId: `owner-of-${accountId}`, initialDeposit: deposit },
      { commandId: `open/${accountId}` },
    );
  }

  async freeze(accountId: string): Promise<void> {
    await this.direct.freezeAccount(
      { accountId, reason: 'test' },
      { commandId: `freeze/${accountId}` },
    );
  }

  async restock(sku: string, quantity: number): Promise<void> {
    await this.direct.restock(
      { sku, quantity, reference: `restock-${sku}-${quantity}` },
      { commandId: `restock/${sku}/${quantity}` },
    );
  }

  placeOrder(
    request: Omit<PlaceOrderRequest, 'correlationId' | 'shippingAddress'> & { country?: string },
  ) {
    return placeOrderAndStartSaga(this.starterDeps, {
      ...request,
      shippingAddress: {
        name: 'Ada Lovelace',
        line1: '1 Analytical St',
        city: 'London',
        postalCode: 'N1',
        country: request.country ?? 'GB',
      },
      correlationId: `corr-${request.orderId}`,
    });
  }

  startTransfer(transferId: string, fromAccountId: string, toAccountId: string, amount: number) {
    return startTransferSaga(this.starterDeps, {
      transferId,
      fromAccountId,
      toAccountId,
      amount,
      correlationId: `corr-${transferId}`,
    });
  }

  result(sagaId: string): Promise<SagaResult> {
    return this.client.workflow.getHandle(sagaId).result() as Promise<SagaResult>;
  }

  status(sagaId: string): Promise<SagaStatusView> {
    return this.client.workflow.getHandle(sagaId).query<SagaStatusView>('status');
  }

  /** Waits until the saga's status query satisfies a predicate. */
  async waitForStatus(
    sagaId: string,
    predicate: (s: SagaStatusView) => boolean,
    timeoutMs = 20_000,
  ): Promise<SagaStatusView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.status(sagaId).catch(() => undefined);
      if (status && predicate(status)) return status;
      if (Date.now() > deadline)
        throw new Error(`${sagaId}: status not reached; last ${JSON.stringify(status)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /**
   * The saga's search attributes as the Temporal UI sees them. Visibility is eventually
   * consistent (the status query is not), so this waits, bounded, until `ready` holds.
   */
  async searchAttributes(
    sagaId: string,
    ready: (attributes: Record<string, unknown>) => boolean,
    timeoutMs = 10_000,
  ): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const described = await this.client.workflow.getHandle(sagaId).describe();
      const attributes = Object.fromEntries(
        described.typedSearchAttributes.getAll().map((pair) => [pair.key.name, pair.value]),
      );
      if (ready(attributes) || Date.now() > deadline) return attributes;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** The values the saga wrote to SagaStatus after it started, in history order. */
  async sagaStatusUpdates(sagaId: string): Promise<string[]> {
    const history = await this.client.workflow.getHandle(sagaId).fetchHistory();
    return (history.events ?? []).flatMap((event) => {
      const payload =
        event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields
          ?.SagaStatus;
      if (!payload) return [];
      // A keyword search attribute is stored as a JSON string.
      return [defaultPayloadConverter.fromPayload<string>(payload)];
    });
  }

  async eventTypes(streamId: string): Promise<string[]> {
    return (await this.db.eventStore.readStream(streamId)).map((e) => e.type);
  }

  async balance(accountId: string): Promise<number> {
    const events = await this.db.eventStore.readStream(`account-${accountId}`);
    const last = [...events]
      .reverse()
      .find((e) => typeof (e.data as { balanceAfter?: number }).balanceAfter === 'number');
    return (last?.data as { balanceAfter?: number } | undefined)?.balanceAfter ?? 0;
  }
}
