import { inspect } from 'node:util';
import type { SagaStatusView, SagaResult } from '../../workflows/definitions';
import { checkInvariants, type Check, type SagaRecord } from '../../scripts/chaos/invariants';
import {
  orderDecider,
  orderPaymentReference,
  orderStreamId,
  transferDecider,
  transferStreamId,
  type OrderItem,
} from '../../src/domain';
import { canonicalJson } from '../../src/api/plugins/idempotency';
import { loadAggregate } from '../../src/eventstore';
import { ALL_PROJECTIONS } from '../../src/projections';
import { orderSagaId, transferSagaId } from '../../src/sagas/sagaIds';
import { plaintextOf, type Model, type ModelOrder } from './model';
import { MERCHANT, type ModelSystem } from './system';

/**
 * The invariants a model run must satisfy once every saga has ended, as a list of named
 * checks. The chaos harness's checks (money, chains, stock, duplicates, read model =
 * rebuild) are reused as they are; the rest are the model's own.
 */

export type { Check };

const ORDER_TERMINAL = ['COMPLETED', 'CANCELLED'];
const TRANSFER_TERMINAL = ['COMPLETED', 'FAILED', 'COMPENSATED'];
const PARKED = 'COMPENSATION_FAILED';

/** One order or transfer as the three sources of truth see it after the run. */
export interface SagaState {
  kind: 'order' | 'transfer';
  id: string;
  sagaId: string;
  /** Temporal's execution status (RUNNING, COMPLETED, CANCELLED, TERMINATED, ...; NONE: no saga). */
  workflowStatus: string;
  /** The saga's own status: its result once completed, else its status query. */
  sagaStatus: string | undefined;
  /** The saga's failure reason, when it has one (for the report). */
  reason: string | null | undefined;
  aggregateStatus: string;
  readModelStatus: string | undefined;
  /** From the event store: the order total or transfer amount, and the order's lines. */
  amount: number;
  lines: OrderItem[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sample = (items: unknown[], n = 4) =>
  items
    .slice(0, n)
    .map((i) => JSON.stringify(i))
    .join('; ');

/** Every order and transfer id: those the model knows, and any the event store has. */
async function businessIds(system: ModelSystem, model: Model) {
  const streams = (
    await system.db.pool.query<{ stream_id: string }>(
      `SELECT DISTINCT stream_id FROM events WHERE stream_id LIKE 'order-%' OR stream_id LIKE 'transfer-%'`,
    )
  ).rows.map((r) => r.stream_id);
  const orders = new Set(model.orders.map((o) => o.orderId));
  const transfers = new Set(model.transfers.map((t) => t.transferId));
  for (const stream of streams) {
    if (stream.startsWith('order-')) orders.add(stream.slice('order-'.length));
    else transfers.add(stream.slice('transfer-'.length));
  }
  return { orders: [...orders], transfers: [...transfers] };
}

async function sagaView(
  system: ModelSystem,
  sagaId: string,
): Promise<{
  workflowStatus: string;
  sagaStatus: string | undefined;
  reason: string | null | undefined;
}> {
  const handle = system.client.workflow.getHandle(sagaId);
  let workflowStatus: string;
  try {
    workflowStatus = (await handle.describe()).status.name;
  } catch {
    return { workflowStatus: 'NONE', sagaStatus: undefined, reason: undefined };
  }
  if (workflowStatus === 'COMPLETED') {
    const result = (await handle.result()) as SagaResult;
    return { workflowStatus, sagaStatus: result.status, reason: result.reason };
  }
  const view = await system.client
    .withDeadline(Date.now() + 3_000, () => handle.query<SagaStatusView>('status'))
    .catch(() => undefined);
  return { workflowStatus, sagaStatus: view?.status, reason: view?.failureReason };
}

async function stateOf(
  system: ModelSystem,
  kind: 'order' | 'transfer',
  id: string,
): Promise<SagaState> {
  const sagaId = kind === 'order' ? orderSagaId(id) : transferSagaId(id);
  const { workflowStatus, sagaStatus, reason } = await sagaView(system, sagaId);
  const store = system.db.eventStore;
  const [first] = await store.readStream(`${kind}-${id}`, { toVersion: 1 });
  const data = (first?.data ?? {}) as { items?: OrderItem[]; amount?: number };
  const loaded =
    kind === 'order'
      ? await loadAggregate(store, orderStreamId(id), orderDecider)
      : await loadAggregate(store, transferStreamId(id), transferDecider);
  const table = kind === 'order' ? 'order_summary' : 'transfer_summary';
  const row = await system.db.pool.query<{ status: string }>(
    `SELECT status FROM ${table} WHERE ${kind}_id = $1`,
    [id],
  );
  const lines = data.items ?? [];
  return {
    kind,
    id,
    sagaId,
    workflowStatus,
    sagaStatus,
    reason,
    aggregateStatus: loaded.state.status,
    readModelStatus: row.rows[0]?.status,
    amount:
      kind === 'order'
        ? lines.reduce((s, l) => s + l.quantity * l.unitPrice, 0)
        : (data.amount ?? 0),
    lines,
  };
}

/** Runs that closed without finishing the job: the abandoned-saga reconciler finishes it. */
const ABANDONED = ['TERMINATED', 'TIMED_OUT', 'FAILED'];

const settled = (s: SagaState) => {
  if (s.sagaStatus === PARKED) return true;
  if (s.workflowStatus === 'RUNNING' || s.workflowStatus === 'NONE') return false;
  if (!ABANDONED.includes(s.workflowStatus)) return true;
  const terminal = s.kind === 'order' ? ORDER_TERMINAL : TRANSFER_TERMINAL;
  return terminal.includes(s.aggregateStatus);
};

export interface SettleResult {
  states: SagaState[];
  /** Sagas still running (not parked) or never started when the wait ran out. */
  unsettled: SagaState[];
  /** Sagas that parked in COMPENSATION_FAILED; the harness, as operator, retried each once. */
  parkedForOperator: string[];
  waitedMs: number;
}

/**
 * Waits (bounded) until every saga has closed or is parked for an operator. A saga that
 * parks gets one retryCompensation signal, as an operator would send (reported in
 * `parkedForOperator`); one that parks again stays parked and fails the parked check.
 */
export async function settle(
  system: ModelSystem,
  model: Model,
  timeoutMs: number,
): Promise<SettleResult> {
  const started = Date.now();
  const parkedForOperator = new Set<string>();
  for (;;) {
    const ids = await businessIds(system, model);
    const states = [
      ...(await Promise.all(ids.orders.map((id) => stateOf(system, 'order', id)))),
      ...(await Promise.all(ids.transfers.map((id) => stateOf(system, 'transfer', id)))),
    ];
    let signalled = false;
    for (const s of states) {
      if (
        s.sagaStatus !== PARKED ||
        s.workflowStatus !== 'RUNNING' ||
        parkedForOperator.has(s.sagaId)
      )
        continue;
      parkedForOperator.add(s.sagaId);
      signalled = true;
      await system.client.workflow
        .getHandle(s.sagaId)
        .signal('retryCompensation')
        .catch(() => undefined);
    }
    const unsettled = states.filter(
      (s) => !settled(s) || (s.sagaStatus === PARKED && !parkedForOperator.has(s.sagaId)),
    );
    const waitedMs = Date.now() - started;
    if ((unsettled.length === 0 && !signalled) || waitedMs > timeoutMs) {
      await waitForProjections(system, Math.max(15_000, timeoutMs - waitedMs));
      // Read models and statuses after the projections caught up.
      const final = [
        ...(await Promise.all(ids.orders.map((id) => stateOf(system, 'order', id)))),
        ...(await Promise.all(ids.transfers.map((id) => stateOf(system, 'transfer', id)))),
      ];
      return {
        states: final,
        unsettled: final.filter((s) => !settled(s)),
        parkedForOperator: [...parkedForOperator],
        waitedMs,
      };
    }
    await sleep(300);
  }
}

interface ProjectionView {
  name: string;
  checkpoint: string;
  state: string;
  lagEvents: number;
  rebuilding: boolean;
  error: unknown;
}

/** GET /admin/projections (retried a few times: a request can meet a killed connection). */
async function projectionStatuses(system: ModelSystem): Promise<ProjectionView[]> {
  for (let attempt = 1; ; attempt++) {
    const response = await system.inject({ url: '/admin/projections' });
    if (response.statusCode === 200)
      return response.json<{ projections: ProjectionView[] }>().projections;
    if (attempt >= 5)
      throw new Error(`GET /admin/projections: HTTP ${response.statusCode} ${response.body}`);
    await sleep(200);
  }
}

/**
 * Projections that have not applied every event of their types (by position, not by the
 * status's own lag figure), or that failed or are rebuilding.
 */
async function projectionsBehind(
  system: ModelSystem,
): Promise<Array<ProjectionView & { last: string }>> {
  const statuses = await projectionStatuses(system);
  const behind = [];
  for (const projection of ALL_PROJECTIONS) {
    const status = statuses.find((s) => s.name === projection.name);
    const last = (
      await system.db.pool.query<{ last: string | null }>(
        'SELECT max(global_position)::text AS last FROM events WHERE event_type = ANY($1)',
        [projection.eventTypes],
      )
    ).rows[0]!.last;
    if (
      !status ||
      status.state !== 'running' ||
      status.rebuilding ||
      BigInt(status.checkpoint) < BigInt(last ?? '0')
    )
      behind.push({
        ...(status ?? {
          name: projection.name,
          checkpoint: '0',
          state: 'missing',
          lagEvents: 0,
          rebuilding: false,
          error: null,
        }),
        last: last ?? '0',
      });
  }
  return behind;
}

/** Until no rebuild runs and every projection has applied every event (bounded). */
async function waitForProjections(system: ModelSystem, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pending = await projectionsBehind(system);
    if (pending.length === 0 || pending.every((p) => p.state === 'failed') || Date.now() > deadline)
      return;
    await sleep(200);
  }
}

/** The lines of an order summed per SKU (what it should reserve, commit or release). */
const perSku = (lines: OrderItem[]) => {
  const total = new Map<string, number>();
  for (const line of lines) total.set(line.sku, (total.get(line.sku) ?? 0) + line.quantity);
  return [...total].map(([sku, quantity]) => ({ sku, quantity }));
};

function agreementProblem(s: SagaState): string | undefined {
  const terminal = s.kind === 'order' ? ORDER_TERMINAL : TRANSFER_TERMINAL;
  if (!terminal.includes(s.aggregateStatus)) return 'aggregate not terminal';
  if (s.readModelStatus !== s.aggregateStatus) return 'read model differs from aggregate';
  switch (s.workflowStatus) {
    case 'COMPLETED':
      return s.sagaStatus === s.aggregateStatus ? undefined : 'saga result differs from aggregate';
    case 'CANCELLED':
      return s.aggregateStatus === 'CANCELLED' ? undefined : 'saga cancelled, order not';
    case 'TERMINATED':
      // Something (a reconciler) finished it; the aggregate and read model decide.
      return undefined;
    default:
      return `saga ${s.workflowStatus}`;
  }
}

/** Checks every invariant; the settle result says what each saga ended as. */
export async function checkModelInvariants(
  system: ModelSystem,
  model: Model,
  result: SettleResult,
): Promise<Check[]> {
  const checks: Check[] = [];
  const check = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });
  const { states } = result;

  check(
    'the API answered every command as specified',
    model.apiViolations.length === 0,
    model.apiViolations.slice(0, 5).join(' | '),
  );

  const parked = states.filter((s) => s.sagaStatus === PARKED || s.aggregateStatus === PARKED);
  check(
    'no saga parked for an operator (COMPENSATION_FAILED)',
    parked.length === 0,
    `${parked.length} parked: ${sample(parked.map((s) => [s.sagaId, s.workflowStatus, s.aggregateStatus]))}`,
  );
  check(
    `every saga terminal within the wait (${result.waitedMs} ms)`,
    result.unsettled.length === 0,
    `${result.unsettled.length} not: ${sample(result.unsettled.map((s) => [s.sagaId, s.workflowStatus, s.sagaStatus, s.aggregateStatus]))}`,
  );

  const disagreeing = states.flatMap((s) => {
    const problem = agreementProblem(s);
    return problem && s.aggregateStatus !== PARKED
      ? [
          {
            saga: s.sagaId,
            problem,
            workflow: s.workflowStatus,
            saga_status: s.sagaStatus,
            aggregate: s.aggregateStatus,
            read_model: s.readModelStatus,
          },
        ]
      : [];
  });
  check(
    'every order and transfer terminal, and aggregate = read model = saga',
    disagreeing.length === 0,
    `${disagreeing.length} off: ${sample(disagreeing)}`,
  );

  // The API's own answers agree with the aggregates.
  const apiOff: unknown[] = [];
  for (const s of states) {
    const response = await system.inject({ url: `/${s.kind}s/${s.id}` });
    const status =
      response.statusCode === 200 ? response.json<{ status?: string }>().status : undefined;
    if (status !== s.aggregateStatus)
      apiOff.push({
        url: `/${s.kind}s/${s.id}`,
        http: response.statusCode,
        status,
        aggregate: s.aggregateStatus,
      });
  }
  check(
    'GET /orders/{id} and /transfers/{id} show the aggregate status',
    apiOff.length === 0,
    sample(apiOff),
  );

  // What the API promised about single orders.
  const byId = new Map(states.map((s) => [s.id, s]));
  const broken: unknown[] = [];
  for (const order of model.orders) {
    const s = byId.get(order.orderId);
    const interfered = order.terminated || order.temporalCancelled;
    if (order.cancelAccepted && !interfered && s?.aggregateStatus !== 'CANCELLED')
      broken.push({ order: order.key, promise: 'cancel accepted', status: s?.aggregateStatus });
    if (order.cancelRefusedAfterPivot && !interfered && s?.aggregateStatus !== 'COMPLETED') {
      const debits = await system.db.pool.query(
        `SELECT 1 FROM events WHERE event_type = 'AccountDebited' AND data->>'reference' = $1`,
        [orderPaymentReference(order.orderId)],
      );
      broken.push({
        order: order.key,
        promise: 'cancel refused: "the payment was taken"',
        charged: (debits.rowCount ?? 0) > 0,
        status: s?.aggregateStatus,
      });
    }
  }
  check(
    'an accepted cancel ends CANCELLED; one refused because "the payment was taken" ends COMPLETED',
    broken.length === 0,
    sample(broken),
  );

  // Money moved by each order is the order's own total (the event store's order, not the request).
  const mischarged: unknown[] = [];
  for (const order of model.orders) {
    const s = byId.get(order.orderId);
    if (!s || s.lines.length === 0) continue;
    const debits = await system.db.pool.query<{ amount: string }>(
      `SELECT (data->>'amount')::bigint AS amount FROM events WHERE event_type = 'AccountDebited' AND data->>'reference' = $1`,
      [orderPaymentReference(order.orderId)],
    );
    for (const row of debits.rows)
      if (Number(row.amount) !== s.amount)
        mischarged.push({ order: order.key, orderTotal: s.amount, charged: Number(row.amount) });
  }
  check('every charge equals its order total', mischarged.length === 0, sample(mischarged));

  // Stock committed per SKU = what completed orders shipped (every line, summed per SKU).
  const shipped = new Map<string, number>();
  for (const s of states)
    if (s.kind === 'order' && s.aggregateStatus === 'COMPLETED')
      for (const line of s.lines)
        shipped.set(line.sku, (shipped.get(line.sku) ?? 0) + line.quantity);
  const committed = new Map<string, number>();
  for (const row of (
    await system.db.pool.query<{ sku: string; n: string }>(
      `SELECT data->>'sku' AS sku, sum((data->>'quantity')::int)::text AS n FROM events
        WHERE event_type = 'ReservationCommitted' GROUP BY 1`,
    )
  ).rows)
    committed.set(row.sku, Number(row.n));
  const skuOff = [...new Set([...shipped.keys(), ...committed.keys()])]
    .filter((sku) => (shipped.get(sku) ?? 0) !== (committed.get(sku) ?? 0))
    .map((sku) => ({ sku, shipped: shipped.get(sku) ?? 0, committed: committed.get(sku) ?? 0 }));
  check(
    'committed stock per SKU = what completed orders shipped',
    skuOff.length === 0,
    sample(skuOff),
  );

  // Before the chaos checks, which rebuild every projection.
  const behind = await projectionsBehind(system);
  check('every projection running and caught up', behind.length === 0, sample(behind));

  // The chaos harness's invariants, fed the event store's truth.
  const records: SagaRecord[] = states.map((s) => ({
    kind: s.kind,
    key: s.id,
    id: s.id,
    sagaId: s.sagaId,
    amount: s.amount,
    ...(s.kind === 'order' && { lines: perSku(s.lines) }),
    finalStatus: s.aggregateStatus,
  }));
  // Distinct workflow ids, not runs: the reconciler's fresh run of a terminated saga keeps
  // its id, and is the same saga.
  const workflowIds = new Set<string>();
  for await (const run of system.client.workflow.list({
    query: `TaskQueue = "${system.taskQueue}"`,
  }))
    workflowIds.add(run.workflowId);
  const workflowCount = workflowIds.size;
  const chaos = await checkInvariants({
    pool: system.db.pool,
    store: system.db.eventStore,
    sagas: records,
    depositsSent: model.deposited,
    restockedSent: model.restocked,
    distinctKeys: model.keys.size,
    temporalWorkflowCount: workflowCount,
    merchantAccountId: MERCHANT,
  });
  const replaced = new Set([
    'every saga terminal',
    'no COMPENSATION_FAILED',
    'read-model status = saga status',
  ]);
  checks.push(...chaos.checks.filter((c) => !replaced.has(c.name)));

  checks.push(...(await personalDataChecks(system, model)));
  return checks;
}

/** Orders whose customer was erased after they were placed: their plaintext must be gone. */
const erasedOrders = (model: Model): ModelOrder[] =>
  model.orders.filter((o) => (model.erasedAt.get(o.body.customerId) ?? -1) > o.placedAt);
/** Orders placed after their customer's (last) erasure: their address must still read. */
const ordersAfterErasure = (model: Model): ModelOrder[] =>
  model.orders.filter((o) => {
    const erased = model.erasedAt.get(o.body.customerId);
    return erased !== undefined && erased < o.placedAt;
  });

async function personalDataChecks(system: ModelSystem, model: Model): Promise<Check[]> {
  const checks: Check[] = [];
  const needles = erasedOrders(model).flatMap((o) =>
    plaintextOf(o.body.shippingAddress).map((text) => ({ order: o, text })),
  );
  const patterns = needles.map((n) => `%${n.text}%`);

  const leaks: string[] = [];
  if (patterns.length > 0) {
    const tables = (
      await system.db.pool.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
      )
    ).rows.map((r) => r.table_name);
    for (const table of tables) {
      const found = await system.db.pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM "${table}" t WHERE t::text LIKE ANY($1)`,
        [patterns],
      );
      if (Number(found.rows[0]!.n) > 0) leaks.push(`table ${table} (${found.rows[0]!.n} rows)`);
    }
  }
  checks.push({
    name: 'no plaintext of an erased subject in the database',
    ok: leaks.length === 0,
    detail: leaks.join(', '),
  });

  const apiLeaks: string[] = [];
  const urls = [
    '/events?limit=1000',
    ...erasedOrders(model).flatMap((o) => [
      `/orders/${o.orderId}`,
      `/orders/${o.orderId}/shipping-address`,
      `/streams/order-${o.orderId}/events`,
      `/orders?customerId=${o.body.customerId}`,
    ]),
  ];
  if (needles.length > 0) {
    for (const url of urls) {
      const body = (await system.inject({ url })).body;
      const hit = needles.find((n) => body.includes(n.text));
      if (hit) apiLeaks.push(`${url} shows "${hit.text}"`);
    }
  }
  checks.push({
    name: 'no plaintext of an erased subject in API responses',
    ok: apiLeaks.length === 0,
    detail: apiLeaks.slice(0, 5).join(', '),
  });

  const memory = needles.filter((n) =>
    inspect(system.commandHandlers, { depth: 12 }).includes(n.text),
  );
  checks.push({
    name: 'no plaintext of an erased subject in the command handlers (caches)',
    ok: memory.length === 0,
    detail: sample(memory.map((n) => [n.order.key, n.text])),
  });

  const lost: unknown[] = [];
  for (const order of ordersAfterErasure(model)) {
    const response = await system.inject({ url: `/orders/${order.orderId}/shipping-address` });
    if (response.statusCode === 404) continue; // never placed
    const body = response.json<{ shippingAddress: unknown; erased: boolean }>();
    if (
      body.erased ||
      canonicalJson(body.shippingAddress) !== canonicalJson(order.body.shippingAddress)
    )
      lost.push({ order: order.key, got: body });
  }
  checks.push({
    name: 'orders placed after an erasure keep their address',
    ok: lost.length === 0,
    detail: sample(lost, 2),
  });
  return checks;
}
