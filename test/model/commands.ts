import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { generationTable } from '../../src/projections';
import { orderSagaId, transferSagaId } from '../../src/sagas/sagaIds';
import {
  ACCOUNTS,
  addressFor,
  CUSTOMERS,
  orderIdForKey,
  PROJECTIONS,
  SKUS,
  transferIdForKey,
  type Model,
  type ModelOrder,
  type OrderBody,
} from './model';
import { APPROVAL_THRESHOLD, type ModelSystem } from './system';

/**
 * The commands of the model test. Each `run` drives the real system (HTTP API through
 * `inject`, Temporal client, worker) and records in the model what the API promised.
 * Kinds that trigger a known defect can be switched off (see `enabledKinds`).
 */

export const COMMAND_KINDS = [
  'openAccount',
  'deposit',
  'restock',
  'placeOrder',
  /** Orders with the same SKU on two lines (known defect: reserved once, charged in full). */
  'repeatedSku',
  'transfer',
  'approve',
  'cancelViaApi',
  /** handle.cancel() (known defect: pre-pivot never CANCELLED, post-pivot money stuck). */
  'cancelViaTemporal',
  /** handle.terminate() (known defect: half-done sagas, no reconciler). */
  'terminate',
  'retryOrder',
  /** POST /orders whose first attempt fails after placing the order. */
  'firstAttemptFails',
  /** ... retried with a different body (known defect: wrong charge, MarkPaid loops). */
  'retryDifferentAfterFailure',
  'erase',
  /** An order by a customer erased earlier (known defect: its address is lost). */
  'orderAfterErasure',
  'rebuildProjection',
  'restartWorker',
  'armFault',
  /** A transfer whose refund keeps failing until the saga parks (COMPENSATION_FAILED). */
  'parkRefund',
  /** The operator's retryCompensation signal to every parked saga (known defect after a park). */
  'retryParked',
  /** pg_terminate_backend on the projector's connections, or on every connection of the run. */
  'killConnections',
  /** The read-model table refuses writes for a second (known defect: the projection parks). */
  'projectionHiccup',
  /** Lets time pass (sagas move on between two commands). */
  'pause',
] as const;
export type CommandKind = (typeof COMMAND_KINDS)[number];

/** MODEL_COMMANDS (comma list, default all) minus MODEL_SKIP (comma list). */
export function enabledKinds(env: NodeJS.ProcessEnv = process.env): Set<CommandKind> {
  const parse = (value: string | undefined) =>
    (value ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const unknown = [...parse(env.MODEL_COMMANDS), ...parse(env.MODEL_SKIP)].filter(
    (k) => !(COMMAND_KINDS as readonly string[]).includes(k),
  );
  if (unknown.length) throw new Error(`Unknown model command kinds: ${unknown.join(', ')}`);
  const chosen = parse(env.MODEL_COMMANDS);
  const skip = new Set(parse(env.MODEL_SKIP));
  return new Set(
    (chosen.length ? (chosen as CommandKind[]) : [...COMMAND_KINDS]).filter((k) => !skip.has(k)),
  );
}

export interface Real {
  system: ModelSystem;
  /** Unique per run: keys (and so order, transfer and workflow ids) never repeat across runs. */
  runId: string;
  kinds: Set<CommandKind>;
}

export type ModelCommand = fc.AsyncCommand<Model, Real>;

const json = (response: LightMyRequestResponse): Record<string, unknown> => {
  try {
    return response.json<Record<string, unknown>>();
  } catch {
    return {};
  }
};

function expectStatus(
  model: Model,
  what: string,
  response: LightMyRequestResponse,
  allowed: number[],
): boolean {
  if (allowed.includes(response.statusCode)) return true;
  model.apiViolations.push(
    `${what}: HTTP ${response.statusCode} (expected ${allowed.join('/')}) ${response.body.slice(0, 300)}`,
  );
  return false;
}

/** An account id no command opens. */
export const NEVER_OPENED = 'acc-never-opened';

const pick = <T>(items: readonly T[], index: number): T | undefined =>
  items.length === 0 ? undefined : items[index % items.length];

// --- Accounts and stock ------------------------------------------------------------------

export class OpenAccount implements ModelCommand {
  constructor(
    readonly account: string,
    readonly initialDeposit: number,
  ) {}
  check = (m: Readonly<Model>) => !m.openAccounts.has(this.account);
  async run(m: Model, r: Real): Promise<void> {
    m.step += 1;
    const response = await r.system.inject({
      method: 'POST',
      url: '/accounts',
      headers: { 'idempotency-key': `${r.runId}-open-${this.account}` },
      payload: {
        accountId: this.account,
        ownerId: `owner-${this.account}`,
        initialDeposit: this.initialDeposit,
      },
    });
    if (expectStatus(m, this.toString(), response, [201])) {
      m.openAccounts.add(this.account);
      m.deposited += this.initialDeposit;
    }
  }
  toString = () => `OpenAccount(${this.account}, ${this.initialDeposit})`;
}

/**
 * Deposits; with `copies` > 1 the same request (one Idempotency-Key) is sent that many
 * times at once: one is applied (201), the others answer 201 (replayed) or 200.
 */
export class Deposit implements ModelCommand {
  constructor(
    readonly account: string,
    readonly amount: number,
    readonly copies = 1,
  ) {}
  check = (m: Readonly<Model>) => m.openAccounts.has(this.account);
  async run(m: Model, r: Real): Promise<void> {
    m.step += 1;
    const key = `${r.runId}-deposit-${m.step}`;
    const responses = await Promise.all(
      Array.from({ length: this.copies }, () =>
        r.system.inject({
          method: 'POST',
          url: `/accounts/${this.account}/deposits`,
          headers: { 'idempotency-key': key },
          payload: { amount: this.amount },
        }),
      ),
    );
    const ok = responses.filter((response) =>
      expectStatus(m, this.toString(), response, this.copies > 1 ? [200, 201] : [201]),
    );
    if (ok.length > 0) m.deposited += this.amount;
  }
  toString = () =>
    `Deposit(${this.account}, ${this.amount}${this.copies > 1 ? `; ${this.copies} concurrent copies` : ''})`;
}

export class Restock implements ModelCommand {
  constructor(
    readonly sku: string,
    readonly quantity: number,
  ) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    m.step += 1;
    const response = await r.system.inject({
      method: 'POST',
      url: `/inventory/${this.sku}/restock`,
      headers: { 'idempotency-key': `${r.runId}-restock-${m.step}` },
      payload: { quantity: this.quantity },
    });
    if (expectStatus(m, this.toString(), response, [201]))
      m.restocked[this.sku] = (m.restocked[this.sku] ?? 0) + this.quantity;
  }
  toString = () => `Restock(${this.sku}, ${this.quantity})`;
}

// --- Orders ----------------------------------------------------------------------------

export interface OrderSpec {
  customer: string;
  account: string;
  lines: Array<{ sku: string; quantity: number; unitPrice: number }>;
  country: string;
}

const bodyOf = (spec: OrderSpec, key: string): OrderBody => ({
  customerId: spec.customer,
  paymentAccountId: spec.account,
  items: spec.lines.map((line) => ({ ...line })),
  shippingAddress: addressFor(key, spec.country),
});

const specText = (spec: OrderSpec) =>
  `${spec.customer}, ${spec.account}, [${spec.lines.map((l) => `${l.sku}x${l.quantity}@${l.unitPrice}`).join(' ')}], ${spec.country}`;

const hasRepeatedSku = (spec: OrderSpec) =>
  new Set(spec.lines.map((l) => l.sku)).size !== spec.lines.length;

/** Whether an order spec may run under the enabled kinds and the model's erasures. */
function orderAllowed(spec: OrderSpec, m: Readonly<Model>, kinds: Set<CommandKind>): boolean {
  if (hasRepeatedSku(spec) && !kinds.has('repeatedSku')) return false;
  if (m.erasedAt.has(spec.customer) && !kinds.has('orderAfterErasure')) return false;
  return true;
}

function recordOrder(m: Model, key: string, body: OrderBody): ModelOrder {
  const order: ModelOrder = {
    key,
    orderId: orderIdForKey(key),
    body,
    placedAt: m.step,
    answered: false,
    cancelAccepted: false,
    cancelRefusedAfterPivot: false,
    temporalCancelled: false,
    terminated: false,
  };
  m.orders.push(order);
  m.keys.add(key);
  return order;
}

function postOrder(r: Real, key: string, body: OrderBody) {
  return r.system.inject({
    method: 'POST',
    url: '/orders',
    headers: { 'idempotency-key': key },
    payload: body,
  });
}

function checkAccepted(
  m: Model,
  what: string,
  order: ModelOrder,
  response: LightMyRequestResponse,
) {
  if (!expectStatus(m, what, response, [202])) return;
  const body = json(response);
  if (body.orderId !== order.orderId || body.sagaId !== orderSagaId(order.orderId))
    m.apiViolations.push(
      `${what}: answered order ${String(body.orderId)}, expected ${order.orderId}`,
    );
  order.answered = true;
}

/**
 * An order that repeats a SKU on two lines is refused at the edge (400 naming the line's
 * `sku`): no order, no saga, the key stays unused.
 */
function expectRepeatedSkuRefused(m: Model, what: string, response: LightMyRequestResponse) {
  if (!expectStatus(m, what, response, [400])) return;
  const errors = (json(response).errors ?? []) as Array<{ field?: string }>;
  if (!errors.some((error) => /^items\[\d+\]\.sku$/.test(error.field ?? '')))
    m.apiViolations.push(`${what}: 400 does not name the repeated line's sku`);
}

/** Places an order; with `copies` > 1 the same request is sent that many times at once. */
export class PlaceOrder implements ModelCommand {
  constructor(
    readonly spec: OrderSpec,
    readonly kinds: Set<CommandKind>,
    readonly copies = 1,
  ) {}
  check = (m: Readonly<Model>) => orderAllowed(this.spec, m, this.kinds);
  async run(m: Model, r: Real): Promise<void> {
    m.step += 1;
    const key = `${r.runId}-o${m.orders.length}`;
    if (hasRepeatedSku(this.spec)) {
      const refused = await postOrder(r, `${key}-repeated-sku`, bodyOf(this.spec, key));
      expectRepeatedSkuRefused(m, this.toString(), refused);
      return;
    }
    const order = recordOrder(m, key, bodyOf(this.spec, key));
    const responses = await Promise.all(
      Array.from({ length: this.copies }, () => postOrder(r, key, order.body)),
    );
    for (const response of responses) checkAccepted(m, this.toString(), order, response);
  }
  toString = () =>
    `PlaceOrder(${specText(this.spec)}${this.copies > 1 ? `; ${this.copies} concurrent copies` : ''})`;
}

export type RetryAfterFailure = 'none' | 'same' | 'different';

/**
 * POST /orders whose first attempt fails after the order was placed (the saga start fails),
 * then optionally a retry with the same key: the same body, or another one.
 */
export class PlaceOrderFirstAttemptFails implements ModelCommand {
  constructor(
    readonly spec: OrderSpec,
    readonly retry: RetryAfterFailure,
    readonly otherSpec: OrderSpec,
    readonly kinds: Set<CommandKind>,
  ) {}
  check = (m: Readonly<Model>) =>
    orderAllowed(this.spec, m, this.kinds) &&
    !hasRepeatedSku(this.spec) &&
    (this.retry !== 'different' ||
      (this.kinds.has('retryDifferentAfterFailure') &&
        orderAllowed(this.otherSpec, m, this.kinds)));
  async run(m: Model, r: Real): Promise<void> {
    m.step += 1;
    const key = `${r.runId}-o${m.orders.length}`;
    const order = recordOrder(m, key, bodyOf(this.spec, key));
    r.system.failNextSagaStarts(1);
    const first = await postOrder(r, key, order.body);
    r.system.failNextSagaStarts(0);
    expectStatus(m, `${this.toString()} first attempt`, first, [500, 503]);
    if (this.retry === 'same') {
      checkAccepted(m, `${this.toString()} retry`, order, await postOrder(r, key, order.body));
    } else if (this.retry === 'different') {
      const response = await postOrder(r, key, bodyOf(this.otherSpec, key));
      if (hasRepeatedSku(this.otherSpec)) {
        expectRepeatedSkuRefused(m, `${this.toString()} retry`, response);
      } else if (
        // The failed attempt kept its fingerprint: another body under its key is refused.
        expectStatus(m, `${this.toString()} retry`, response, [409]) &&
        json(response).code !== 'IDEMPOTENCY_KEY_REUSED'
      ) {
        m.apiViolations.push(`${this.toString()} retry: 409 without IDEMPOTENCY_KEY_REUSED`);
      }
    }
  }
  toString = () =>
    `PlaceOrderFirstAttemptFails(${specText(this.spec)}; retry ${this.retry}${this.retry === 'different' ? ` with ${specText(this.otherSpec)}` : ''})`;
}

/** POST /orders again under an earlier order's key, with its body or another one. */
export class RetryOrder implements ModelCommand {
  constructor(
    readonly orderIndex: number,
    readonly sameBody: boolean,
    readonly otherSpec: OrderSpec,
    readonly kinds: Set<CommandKind>,
  ) {}
  check = (m: Readonly<Model>) => {
    const order = pick(m.orders, this.orderIndex);
    if (!order) return false;
    // A different body after a first attempt that never got an answer is its own kind.
    if (!this.sameBody && !order.answered && !this.kinds.has('retryDifferentAfterFailure'))
      return false;
    return this.sameBody || orderAllowed(this.otherSpec, m, this.kinds);
  };
  async run(m: Model, r: Real): Promise<void> {
    m.step += 1;
    const order = pick(m.orders, this.orderIndex)!;
    if (this.sameBody) {
      checkAccepted(m, this.toString(), order, await postOrder(r, order.key, order.body));
      return;
    }
    const response = await postOrder(r, order.key, bodyOf(this.otherSpec, order.key));
    if (hasRepeatedSku(this.otherSpec)) {
      expectRepeatedSkuRefused(m, this.toString(), response);
    } else if (order.answered) {
      if (
        expectStatus(m, this.toString(), response, [409]) &&
        json(response).code !== 'IDEMPOTENCY_KEY_REUSED'
      )
        m.apiViolations.push(`${this.toString()}: 409 without IDEMPOTENCY_KEY_REUSED`);
    } else if (expectStatus(m, this.toString(), response, [202, 409])) {
      order.answered = response.statusCode === 202;
    }
  }
  toString = () =>
    `RetryOrder(#${this.orderIndex}, ${this.sameBody ? 'same body' : `other body ${specText(this.otherSpec)}`})`;
}

export class Approve implements ModelCommand {
  constructor(readonly orderIndex: number) {}
  check = (m: Readonly<Model>) => m.orders.length > 0;
  async run(m: Model, r: Real): Promise<void> {
    m.step += 1;
    const order = pick(m.orders, this.orderIndex)!;
    const response = await r.system.inject({
      method: 'POST',
      url: `/orders/${order.orderId}/approve`,
      payload: { approvedBy: 'model' },
    });
    expectStatus(m, this.toString(), response, [202, 404, 409]);
  }
  toString = () => `Approve(#${this.orderIndex})`;
}

export class CancelViaApi implements ModelCommand {
  constructor(readonly orderIndex: number) {}
  check = (m: Readonly<Model>) => m.orders.length > 0;
  async run(m: Model, r: Real): Promise<void> {
    m.step += 1;
    const order = pick(m.orders, this.orderIndex)!;
    const response = await r.system.inject({
      method: 'POST',
      url: `/orders/${order.orderId}/cancel`,
      payload: { reason: 'model cancels' },
    });
    if (!expectStatus(m, this.toString(), response, [200, 404, 409])) return;
    if (response.statusCode === 200) order.cancelAccepted = true;
    if (response.statusCode === 409 && json(response).code === 'CANCEL_REFUSED')
      order.cancelRefusedAfterPivot = true;
  }
  toString = () => `CancelViaApi(#${this.orderIndex})`;
}

export class CancelViaTemporal implements ModelCommand {
  constructor(readonly orderIndex: number) {}
  check = (m: Readonly<Model>) => m.orders.length > 0;
  async run(m: Model, r: Real): Promise<void> {
    m.step += 1;
    const order = pick(m.orders, this.orderIndex)!;
    const cancelled = await r.system.client.workflow
      .getHandle(orderSagaId(order.orderId))
      .cancel()
      .then(() => true)
      .catch(() => false);
    if (cancelled) order.temporalCancelled = true;
  }
  toString = () => `CancelViaTemporal(#${this.orderIndex})`;
}

export class Terminate implements ModelCommand {
  constructor(
    readonly kind: 'order' | 'transfer',
    readonly index: number,
  ) {}
  check = (m: Readonly<Model>) => (this.kind === 'order' ? m.orders : m.transfers).length > 0;
  async run(m: Model, r: Real): Promise<void> {
    m.step += 1;
    const target =
      this.kind === 'order' ? pick(m.orders, this.index)! : pick(m.transfers, this.index)!;
    const sagaId =
      'orderId' in target ? orderSagaId(target.orderId) : transferSagaId(target.transferId);
    const terminated = await r.system.client.workflow
      .getHandle(sagaId)
      .terminate('model terminates')
      .then(() => true)
      .catch(() => false);
    if (terminated) target.terminated = true;
  }
  toString = () => `Terminate(${this.kind} #${this.index})`;
}

// --- Transfers -------------------------------------------------------------------------

/** Starts a transfer; with `copies` > 1 the same request is sent that many times at once. */
export class Transfer implements ModelCommand {
  constructor(
    readonly from: string,
    readonly to: string,
    readonly amount: number,
    readonly copies = 1,
  ) {}
  check = () => this.from !== this.to;
  async run(m: Model, r: Real): Promise<void> {
    m.step += 1;
    const key = `${r.runId}-t${m.transfers.length}`;
    const transferId = transferIdForKey(key);
    m.transfers.push({
      key,
      transferId,
      fromAccountId: this.from,
      toAccountId: this.to,
      amount: this.amount,
      terminated: false,
    });
    m.keys.add(key);
    const responses = await Promise.all(
      Array.from({ length: this.copies }, () =>
        r.system.inject({
          method: 'POST',
          url: '/transfers',
          headers: { 'idempotency-key': key },
          payload: { fromAccountId: this.from, toAccountId: this.to, amount: this.amount },
        }),
      ),
    );
    for (const response of responses)
      if (
        expectStatus(m, this.toString(), response, [202]) &&
        json(response).transferId !== transferId
      )
        m.apiViolations.push(
          `${this.toString()}: answered transfer ${String(json(response).transferId)}`,
        );
  }
  toString = () =>
    `Transfer(${this.from} -> ${this.to}, ${this.amount}${this.copies > 1 ? `; ${this.copies} concurrent copies` : ''})`;
}

/**
 * A transfer that must be undone, whose refund fails on every attempt the saga allows, so
 * the saga parks in COMPENSATION_FAILED (until RetryParked or the harness's operator retry;
 * the fault is used up by then). `credit refused`: to an account never opened;
 * `debit refused`: more than any balance.
 */
export class TransferWithFailingRefund implements ModelCommand {
  constructor(
    readonly from: string,
    readonly amount: number,
    readonly refused: 'credit refused' | 'debit refused',
  ) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    m.step += 1;
    const key = `${r.runId}-t${m.transfers.length}`;
    const transferId = transferIdForKey(key);
    const to =
      this.refused === 'credit refused' ? NEVER_OPENED : this.from === 'acc-0' ? 'acc-1' : 'acc-0';
    const amount = this.refused === 'credit refused' ? this.amount : 10_000_000;
    m.transfers.push({
      key,
      transferId,
      fromAccountId: this.from,
      toAccountId: to,
      amount,
      terminated: false,
    });
    m.keys.add(key);
    await r.system.db.pool.query(
      `INSERT INTO fault_injections (activity, mode, workflow_match, remaining) VALUES ('refundDebit', 'fail', $1, $2)`,
      [transferId, r.system.config.COMPENSATION_MAX_ATTEMPTS],
    );
    const response = await r.system.inject({
      method: 'POST',
      url: '/transfers',
      headers: { 'idempotency-key': key },
      payload: { fromAccountId: this.from, toAccountId: to, amount },
    });
    expectStatus(m, this.toString(), response, [202]);
  }
  toString = () =>
    `TransferWithFailingRefund(${this.from}, ${this.refused === 'credit refused' ? this.amount : 'more than the balance'}, ${this.refused})`;
}

/** The operator: sends retryCompensation to every saga parked in COMPENSATION_FAILED. */
export class RetryParked implements ModelCommand {
  check = (m: Readonly<Model>) => m.transfers.length + m.orders.length > 0;
  async run(m: Model, r: Real): Promise<void> {
    m.step += 1;
    const sagaIds = [
      ...m.orders.map((o) => orderSagaId(o.orderId)),
      ...m.transfers.map((t) => transferSagaId(t.transferId)),
    ];
    for (const sagaId of sagaIds) {
      const handle = r.system.client.workflow.getHandle(sagaId);
      const view = await handle.query<{ status: string }>('status').catch(() => undefined);
      if (view?.status === 'COMPENSATION_FAILED')
        await handle.signal('retryCompensation').catch(() => undefined);
    }
  }
  toString = () => 'RetryParked()';
}

// --- Operations ------------------------------------------------------------------------

export class EraseCustomer implements ModelCommand {
  constructor(readonly customer: string) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    m.step += 1;
    const response = await r.system.inject({
      method: 'DELETE',
      url: `/customers/${this.customer}/personal-data`,
    });
    if (expectStatus(m, this.toString(), response, [200])) m.erasedAt.set(this.customer, m.step);
  }
  toString = () => `EraseCustomer(${this.customer})`;
}

export class RebuildProjection implements ModelCommand {
  constructor(readonly name: string) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    m.step += 1;
    const response = await r.system.inject({
      method: 'POST',
      url: `/admin/projections/${this.name}/rebuild`,
    });
    expectStatus(m, this.toString(), response, [202, 409]);
  }
  toString = () => `RebuildProjection(${this.name})`;
}

export class RestartWorker implements ModelCommand {
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    m.step += 1;
    await r.system.restartWorker();
  }
  toString = () => 'RestartWorker()';
}

export const FAULT_ACTIVITIES = [
  'reserveStock',
  'bookShipment',
  'debitAccount',
  'creditAccount',
  'dispatchShipment',
  'commitStock',
  'releaseStock',
  'refundDebit',
  'applyOrderCommand',
  'applyTransferCommand',
] as const;
export const FAULT_MODES = [
  'fail',
  'fail_after_effect',
  'delay_before_effect',
  'delay_after_effect',
] as const;

/**
 * Arms one fault for the next call of an activity (any saga): a failed attempt before or
 * after its effect, or an attempt that outlives its 5 s timeout (a zombie).
 */
export class ArmFault implements ModelCommand {
  constructor(
    readonly activity: (typeof FAULT_ACTIVITIES)[number],
    readonly mode: (typeof FAULT_MODES)[number],
  ) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    m.step += 1;
    await r.system.db.pool.query(
      `INSERT INTO fault_injections (activity, mode, remaining, delay_ms) VALUES ($1, $2, 1, $3)`,
      [this.activity, this.mode, this.mode.startsWith('delay') ? 6_000 : 0],
    );
  }
  toString = () => `ArmFault(${this.activity}, ${this.mode})`;
}

/**
 * Terminates the database connections of the projection runner (application_name
 * sagaflow-projector), or of every component of this run, as a failover or an
 * administrator would.
 */
export class KillConnections implements ModelCommand {
  constructor(readonly target: 'projector' | 'all') {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    m.step += 1;
    await r.system.db.pool.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()
          AND ($1::text IS NULL OR application_name = $1)`,
      [this.target === 'projector' ? 'sagaflow-projector' : null],
    );
  }
  toString = () => `KillConnections(${this.target})`;
}

/**
 * A transient database error under one projection: for a second its live table refuses
 * every write (a trigger raising an error, as a full disk or a lock timeout would), while
 * a deposit, a restock and a transfer give every projection an event to apply.
 */
export class ProjectionHiccup implements ModelCommand {
  constructor(readonly projection: (typeof PROJECTIONS)[number]) {}
  check = (m: Readonly<Model>) => m.openAccounts.has('acc-0');
  async run(m: Model, r: Real): Promise<void> {
    m.step += 1;
    const pool = r.system.db.pool;
    const { rows } = await pool.query<{ generation: number }>(
      'SELECT generation FROM projection_checkpoints WHERE name = $1',
      [this.projection],
    );
    const table = generationTable(this.projection, rows[0]!.generation);
    await pool.query(`CREATE OR REPLACE FUNCTION model_hiccup() RETURNS trigger LANGUAGE plpgsql AS
      $$ BEGIN RAISE EXCEPTION 'model hiccup: % is briefly unavailable', TG_TABLE_NAME; END $$`);
    await pool.query(
      `CREATE TRIGGER model_hiccup BEFORE INSERT OR UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION model_hiccup()`,
    );
    try {
      await new Deposit('acc-0', 1).run(m, r);
      await new Restock('sku-a', 1).run(m, r);
      await new Transfer('acc-0', 'acc-1', 1).run(m, r);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    } finally {
      await pool.query(`DROP TRIGGER IF EXISTS model_hiccup ON ${table}`);
    }
  }
  toString = () => `ProjectionHiccup(${this.projection})`;
}

export class Pause implements ModelCommand {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(m: Model): Promise<void> {
    m.step += 1;
    await new Promise((resolve) => setTimeout(resolve, this.ms));
  }
  toString = () => `Pause(${this.ms} ms)`;
}

// --- Arbitraries -------------------------------------------------------------------------

const account = fc.constantFrom(...ACCOUNTS);
const customer = fc.constantFrom(...CUSTOMERS);
const sku = fc.constantFrom(...SKUS);
/** Mostly small, some around the approval threshold (balances are a few thousand). */
const unitPrice = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 50, max: 1_500 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      999,
      2_500,
      Math.floor(APPROVAL_THRESHOLD / 2),
      APPROVAL_THRESHOLD - 1,
      APPROVAL_THRESHOLD,
    ),
  },
);

const orderSpec = (kinds: Set<CommandKind>): fc.Arbitrary<OrderSpec> =>
  fc.record({
    customer,
    account,
    lines: kinds.has('repeatedSku')
      ? fc.array(fc.record({ sku, quantity: fc.integer({ min: 1, max: 3 }), unitPrice }), {
          minLength: 1,
          maxLength: 3,
        })
      : fc.uniqueArray(fc.record({ sku, quantity: fc.integer({ min: 1, max: 3 }), unitPrice }), {
          minLength: 1,
          maxLength: SKUS.length,
          selector: (line) => line.sku,
        }),
    country: fc.constantFrom('GB', 'GB', 'GB', 'FR', 'FR', 'KP'),
  });

/** How often each kind is drawn, relative to the others. */
const WEIGHTS: Record<CommandKind, number> = {
  openAccount: 1,
  deposit: 1,
  restock: 2,
  placeOrder: 8,
  repeatedSku: 0,
  transfer: 3,
  approve: 3,
  cancelViaApi: 2,
  cancelViaTemporal: 1,
  terminate: 1,
  retryOrder: 2,
  firstAttemptFails: 2,
  retryDifferentAfterFailure: 0,
  erase: 1,
  orderAfterErasure: 0,
  rebuildProjection: 1,
  restartWorker: 1,
  armFault: 2,
  parkRefund: 1,
  retryParked: 1,
  killConnections: 1,
  projectionHiccup: 1,
  pause: 1,
};

/**
 * The commands every sequence starts with: two funded accounts and some stock (a third
 * account stays closed until a random OpenAccount, so orders and transfers can hit it).
 */
export const PRELUDE: readonly ModelCommand[] = [
  new OpenAccount('acc-0', 50_000),
  new OpenAccount('acc-1', 8_000),
  new Restock('sku-a', 15),
  new Restock('sku-b', 10),
];

/** One weighted arbitrary over the commands of the enabled kinds (for fc.commands). */
export function commandArbitraries(kinds: Set<CommandKind>): Array<fc.Arbitrary<ModelCommand>> {
  const spec = orderSpec(kinds);
  const index = fc.nat({ max: 20 });
  const copies = fc.oneof({ weight: 4, arbitrary: fc.constant(1) }, fc.integer({ min: 2, max: 3 }));
  const arbitraries: Record<CommandKind, fc.Arbitrary<ModelCommand> | undefined> = {
    openAccount: fc
      .tuple(account, fc.constantFrom(0, 1_000, 5_000, 20_000))
      .map(([a, d]) => new OpenAccount(a, d)),
    deposit: fc
      .tuple(account, fc.integer({ min: 1, max: 10_000 }), copies)
      .map(([a, n, c]) => new Deposit(a, n, c)),
    restock: fc.tuple(sku, fc.integer({ min: 1, max: 6 })).map(([s, q]) => new Restock(s, q)),
    placeOrder: fc.tuple(spec, copies).map(([s, n]) => new PlaceOrder(s, kinds, n)),
    repeatedSku: undefined,
    transfer: fc
      .tuple(
        account,
        account,
        fc.oneof(fc.integer({ min: 1, max: 6_000 }), fc.constant(50_000)),
        copies,
      )
      .map(([f, t, n, c]) => new Transfer(f, t, n, c)),
    approve: index.map((i) => new Approve(i)),
    cancelViaApi: index.map((i) => new CancelViaApi(i)),
    cancelViaTemporal: index.map((i) => new CancelViaTemporal(i)),
    terminate: fc
      .tuple(fc.constantFrom('order' as const, 'transfer' as const), index)
      .map(([k, i]) => new Terminate(k, i)),
    retryOrder: fc
      .tuple(index, fc.boolean(), spec)
      .map(([i, same, s]) => new RetryOrder(i, same, s, kinds)),
    firstAttemptFails: fc
      .tuple(spec, fc.constantFrom<RetryAfterFailure>('none', 'same', 'different'), spec)
      .map(([s, retry, other]) => new PlaceOrderFirstAttemptFails(s, retry, other, kinds)),
    retryDifferentAfterFailure: undefined,
    erase: customer.map((c) => new EraseCustomer(c)),
    orderAfterErasure: undefined,
    rebuildProjection: fc.constantFrom(...PROJECTIONS).map((p) => new RebuildProjection(p)),
    restartWorker: fc.constant(new RestartWorker()),
    armFault: fc
      .tuple(fc.constantFrom(...FAULT_ACTIVITIES), fc.constantFrom(...FAULT_MODES))
      .map(([a, mode]) => new ArmFault(a, mode)),
    parkRefund: fc
      .tuple(
        account,
        fc.integer({ min: 1, max: 3_000 }),
        fc.constantFrom('credit refused' as const, 'debit refused' as const),
      )
      .map(([a, n, why]) => new TransferWithFailingRefund(a, n, why)),
    retryParked: fc.constant(new RetryParked()),
    killConnections: fc
      .constantFrom('projector' as const, 'all' as const)
      .map((t) => new KillConnections(t)),
    projectionHiccup: fc.constantFrom(...PROJECTIONS).map((p) => new ProjectionHiccup(p)),
    pause: fc.constantFrom(300, 1_000, 2_000).map((ms) => new Pause(ms)),
  };
  const weighted = COMMAND_KINDS.flatMap((kind) => {
    const arbitrary = arbitraries[kind];
    return arbitrary && kinds.has(kind) ? [{ arbitrary, weight: WEIGHTS[kind] }] : [];
  });
  return [fc.oneof(...weighted)];
}
