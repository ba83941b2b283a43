import type { Client } from '@temporalio/client';
import { orderStreamId, type OrderItem } from '../domain/order';
import type { EventStore, SqlExecutor } from '../eventstore';
import { orderSagaId } from '../sagas/sagaIds';
import { describeWorkflow } from '../temporal/workflowLookup';
import { PeriodicPass } from './periodicPass';
import { startOrderSaga, type SagaStarterDependencies } from './sagaStarter';

export interface ReconcilerOptions {
  /** How long an order may stay PLACED before we look for its saga. */
  graceSeconds?: number;
  intervalMs?: number;
  log?: (message: string, error?: unknown) => void;
}

/**
 * Placing an order appends OrderPlaced and then starts its saga: two steps, so a process
 * that dies between them leaves an order with no saga. This finds orders still PLACED
 * after a grace period whose workflow does not exist, and starts it (the workflow id comes
 * from the order id, so a saga is never started twice).
 */
export class OrphanedOrderReconciler {
  private readonly periodic: PeriodicPass;

  constructor(
    private readonly db: SqlExecutor,
    private readonly eventStore: EventStore,
    private readonly deps: SagaStarterDependencies & { client: Client },
    private readonly options: ReconcilerOptions = {},
  ) {
    this.periodic = new PeriodicPass(
      () => this.reconcileOnce(),
      options.intervalMs ?? 15_000,
      (error) => options.log?.('orphaned order reconciler failed', error),
    );
  }

  /** One pass; returns the order ids whose saga it started. */
  async reconcileOnce(): Promise<string[]> {
    const candidates = await this.db.query<{ order_id: string }>(
      `SELECT order_id FROM order_summary
        WHERE status = 'PLACED' AND placed_at < now() - make_interval(secs => $1)
        ORDER BY placed_at LIMIT 100`,
      [this.options.graceSeconds ?? 30],
    );
    const started: string[] = [];
    for (const { order_id: orderId } of candidates.rows) {
      if (await this.sagaExists(orderId)) continue;
      const [placed] = await this.eventStore.readStream(orderStreamId(orderId), { toVersion: 1 });
      if (placed?.type !== 'OrderPlaced') continue;
      const data = placed.data as {
        customerId: string;
        paymentAccountId: string;
        items: OrderItem[];
      };
      const result = await startOrderSaga(this.deps, {
        orderId,
        customerId: data.customerId,
        paymentAccountId: data.paymentAccountId,
        items: data.items,
        correlationId: String(placed.metadata.correlation_id ?? `reconciled-${orderId}`),
      });
      if (result.started) {
        started.push(orderId);
        this.options.log?.(`started the missing saga of order ${orderId}`);
      }
    }
    return started;
  }

  start(): void {
    this.periodic.start();
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }

  private async sagaExists(orderId: string): Promise<boolean> {
    return (
      (await describeWorkflow(this.deps.client.workflow.getHandle(orderSagaId(orderId)))) !==
      undefined
    );
  }
}
