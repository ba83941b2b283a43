import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import type { CommandHandler } from '../application/commandHandler';
import type { Config } from '../config';
import type { EventStore } from '../eventstore';
import type { ReadSide } from '../infra/readReplica';
import type { Metrics } from '../observability/metrics';
import type {
  AccountBalance,
  DeadLetter,
  InventoryLevel,
  OrderListQuery,
  OrderSummary,
  ProjectionStatus,
  SkipRequest,
  TransferSummary,
} from '../projections';

/** A read-model row: whatever the projection stores, plus where it stands in the log. */
export interface ReadModelRow {
  version: number;
  /** Global position of the last event the row reflects (decimal string). */
  lastPosition: string;
}

/**
 * What the API needs from src/projections (queries.ts and index.ts), injected. The rows are
 * the projections' own types, so the compiler checks each route's answer against its schema.
 */
export interface ReadModels {
  getOrderSummary(db: Pool, orderId: string): Promise<OrderSummary | undefined>;
  listOrderSummaries(
    db: Pool,
    query: OrderListQuery,
  ): Promise<{ items: OrderSummary[]; nextCursor: string | null }>;
  getAccountBalance(db: Pool, accountId: string): Promise<AccountBalance | undefined>;
  getInventoryLevel(db: Pool, sku: string): Promise<InventoryLevel | undefined>;
  getTransferSummary(db: Pool, transferId: string): Promise<TransferSummary | undefined>;
  getProjectionStatuses(db: Pool): Promise<ProjectionStatus[]>;
  rebuildProjection(db: Pool, name: string): Promise<unknown>;
  /** Dead-letters the event a failing projection is stuck on (UnknownProjectionError, NotStuckOnEventError). */
  skipProjectionEvent(db: Pool, name: string, request: SkipRequest): Promise<DeadLetter>;
  listDeadLetters(db: Pool, name: string): Promise<DeadLetter[]>;
}

/** Everything buildApp needs; the server wires real ones, tests their own. */
export interface AppDeps {
  pool: Pool;
  eventStore: EventStore;
  /** Runs commands (with an inline projector as `afterAppend` if reads must see writes at once). */
  commands: CommandHandler;
  temporal: Client;
  config: Config;
  readModels: ReadModels;
  /** Where reads run (a standby with DATABASE_READ_URL); defaults to `pool` and `eventStore`. */
  reads?: ReadSide;
  /** Defaults to a fresh registry per app. */
  metrics?: Metrics;
  now?: () => Date;
}

export interface AppOptions {
  /** Pino options, or false. Default: level from config.LOG_LEVEL. */
  logger?: boolean | { level?: string; [key: string]: unknown };
  /** Max request body in bytes (default 64 KiB). */
  bodyLimit?: number;
  /** How long reads wait for `minPosition` (default 2000 ms). */
  readWaitMs?: number;
  /** SSE: how often the store is polled for new events (default 250 ms). */
  ssePollMs?: number;
  /**
   * Serve Swagger UI at /docs (default true). Jest on Node 20 cannot load its ESM-only
   * dependencies, so tests turn it off; /docs/json is served either way.
   */
  swaggerUi?: boolean;
  /** SSE: comment heartbeat interval (default 15 s). */
  sseHeartbeatMs?: number;
}
