/**
 * The faults a run injects while it drives sagas: zombie activities, worker SIGKILLs (one of
 * them while compensations fail), relay and loyalty SIGKILLs, and pg_terminate_backend
 * rounds; and the plan of when.
 */
import { APP_NAME, withAdmin } from '../admin';
import { busLag } from '../bus';
import type { ChaosContext } from '../context';
import type { ManagedProcess } from '../processes';
import { sleep, waitFor } from '../util';

/** A fault to inject once `at` (a share of the sagas) has been submitted. */
export interface FaultAction {
  at: number;
  name: string;
  run: () => Promise<void>;
}

/** Half the zombies are armed before the first submit, the rest halfway through. */
export const firstZombies = (ctx: ChaosContext): number => Math.ceil(ctx.options.zombies / 2);

export function planFaults(ctx: ChaosContext): FaultAction[] {
  const { options } = ctx;
  const actions: FaultAction[] = [];
  const laterZombies = options.zombies - firstZombies(ctx);
  if (laterZombies > 0)
    actions.push({ at: 0.5, name: 'zombies', run: () => armZombies(ctx, laterZombies) });
  const compensationSlot =
    options.compensationKill && options.workerKills > 0
      ? Math.floor((options.workerKills - 1) / 2)
      : -1;
  for (let j = 0; j < options.workerKills; j++) {
    const at = ((j + 1) / (options.workerKills + 1)) * 0.9;
    actions.push(
      j === compensationSlot
        ? { at, name: 'compensation kill', run: () => compensationKill(ctx) }
        : {
            at,
            name: 'worker kill',
            run: () =>
              killWorker(ctx, `at ${Math.round((ctx.submitted / options.sagas) * 100)}% submitted`),
          },
    );
  }
  // Offset from the worker kills, so two processes seldom die in the same instant.
  const busKills = [
    {
      count: options.relayKills,
      name: 'relay kill',
      proc: () => ctx.system.relay,
      counter: 'relayKills',
    },
    {
      count: options.loyaltyKills,
      name: 'loyalty kill',
      proc: () => ctx.system.loyalty,
      counter: 'loyaltyKills',
    },
  ] as const;
  for (const [k, kill] of busKills.entries()) {
    for (let j = 0; j < kill.count; j++) {
      actions.push({
        at: ((j + 0.3 + k * 0.3) / kill.count) * 0.9,
        name: kill.name,
        run: async () =>
          killAndRestart(
            ctx,
            kill.proc(),
            kill.counter,
            `at ${Math.round((ctx.submitted / options.sagas) * 100)}% submitted, ${await inFlight(ctx)}`,
          ),
      });
    }
  }
  for (let j = 0; j < options.connectionKills; j++) {
    actions.push({
      at: ((j + 0.6) / options.connectionKills) * 0.85,
      name: 'connection kill',
      run: () => terminateConnections(ctx),
    });
  }
  return actions.sort((a, b) => a.at - b.at);
}

/** Zombies: attempts that outlive their start-to-close timeout, then do their effect anyway. */
export async function armZombies(ctx: ChaosContext, count: number): Promise<void> {
  const { options } = ctx;
  const perActivity = ['debitAccount', 'reserveStock', 'creditAccount'].map((activity, i) => ({
    activity,
    n: Math.floor(count / 3) + (i < count % 3 ? 1 : 0),
  }));
  for (const { activity, n } of perActivity) {
    if (n === 0) continue;
    await ctx.system.pool.query(
      `INSERT INTO fault_injections (activity, mode, remaining, delay_ms) VALUES ($1, 'delay_before_effect', $2, $3)`,
      [activity, n, options.zombieDelayMs],
    );
  }
  ctx.faults.zombiesArmed += count;
  ctx.note(
    `armed ${count} zombies (delay_before_effect ${options.zombieDelayMs} ms > ${options.activityStartToClose}) on debitAccount/reserveStock/creditAccount`,
  );
}

/** SIGKILLs a live worker, then restarts it after 1-3 s. */
async function killWorker(ctx: ChaosContext, why: string): Promise<void> {
  const alive = ctx.system.workers.filter((w) => w.running);
  const worker = alive.length > 0 ? ctx.rnd.pick(alive) : undefined;
  if (!worker) return;
  await killAndRestart(ctx, worker, 'workerKills', why);
}

/** What the bus had in hand when a relay or loyalty kill hit (for the timeline). */
async function inFlight(ctx: ChaosContext): Promise<string> {
  const lag = await busLag(ctx.system.pool, ctx.system.nats).catch(() => undefined);
  return lag
    ? `relay ${lag.relayEvents} events behind, loyalty ${lag.loyaltyAckPending} unacked / ${lag.loyaltyPending} pending`
    : 'bus state unknown';
}

/** SIGKILLs a process (no shutdown hooks: in-flight work just vanishes), restarts it after 1-3 s. */
async function killAndRestart(
  ctx: ChaosContext,
  proc: ManagedProcess,
  counter: 'workerKills' | 'relayKills' | 'loyaltyKills',
  why: string,
): Promise<void> {
  if (!proc.running) return;
  const pid = proc.pid;
  await proc.kill();
  ctx.faults[counter] += 1;
  ctx.note(`SIGKILL ${proc.name} (pid ${pid}) ${why}`);
  await sleep(ctx.rnd.int(1_000, 3_000));
  proc.start();
  ctx.note(`restarted ${proc.name} (pid ${proc.pid})`);
}

/** Terminates every connection to the run's database but the harness's own. */
async function terminateConnections(ctx: ChaosContext): Promise<void> {
  const killed = await withAdmin(ctx.options.databaseUrl, async (admin) => {
    const result = await admin.query<{ application_name: string; terminated: boolean }>(
      `SELECT application_name, pg_terminate_backend(pid) AS terminated FROM pg_stat_activity
        WHERE datname = $1 AND pid <> pg_backend_pid() AND application_name <> $2`,
      [ctx.dbName, APP_NAME],
    );
    return result.rows.filter((r) => r.terminated);
  });
  ctx.faults.connectionKillRounds += 1;
  ctx.faults.backendsTerminated += killed.length;
  const byApp: Record<string, number> = {};
  for (const row of killed)
    byApp[row.application_name || '?'] = (byApp[row.application_name || '?'] ?? 0) + 1;
  ctx.note(`pg_terminate_backend: ${killed.length} connections ${JSON.stringify(byApp)}`);
}

/**
 * Makes compensations fail for a while (armed `fail` faults), kills a worker once some
 * have failed, then removes the faults when their time is up.
 */
async function compensationKill(ctx: ChaosContext): Promise<void> {
  const { pool, temporal } = ctx.system;
  const { faults } = ctx;
  const activities = ['releaseStock', 'cancelShipment', 'refundDebit'];
  const armedAt = Date.now();
  const ids = (
    await pool.query<{ id: number }>(
      `INSERT INTO fault_injections (activity, mode) SELECT unnest($1::text[]), 'fail' RETURNING id`,
      [activities],
    )
  ).rows.map((r) => r.id);
  ctx.note(`armed 'fail' on compensations ${activities.join(', ')}`);
  const fired = async () =>
    Number(
      (
        await pool.query<{ n: string }>(
          'SELECT coalesce(sum(fired), 0) AS n FROM fault_injections WHERE id = ANY($1)',
          [ids],
        )
      ).rows[0]!.n,
    );
  const budget = ctx.options.compensationFaultMs;
  await waitFor('a compensation to fail', budget * 0.6, async () => (await fired()) >= 2, false);
  let compensating = 0;
  try {
    compensating = (
      await temporal.workflow.count(
        `TaskQueue = "${ctx.taskQueue}" AND SagaStatus = "COMPENSATING" AND ExecutionStatus = "Running"`,
      )
    ).count;
  } catch {
    // visibility may not support the query; the fired count still tells
  }
  faults.sagasCompensatingAtKill = compensating;
  await killWorker(
    ctx,
    `mid-compensation (${await fired()} compensation attempts failed so far, ${compensating} sagas COMPENSATING)`,
  );
  faults.compensationKills += 1;
  const remaining = budget - (Date.now() - armedAt);
  if (remaining > 0) await sleep(remaining);
  faults.compensationFaultsFired += await fired();
  await pool.query('DELETE FROM fault_injections WHERE id = ANY($1)', [ids]);
  ctx.note(
    `removed compensation faults (${faults.compensationFaultsFired} failed attempts in total)`,
  );
}

/** Counts the zombie attempts that fired, then removes every fault left. */
export async function removeFaults(ctx: ChaosContext): Promise<void> {
  const { pool } = ctx.system;
  const zombieRows = await pool.query<{ fired: string }>(
    "SELECT coalesce(sum(fired), 0) AS fired FROM fault_injections WHERE mode = 'delay_before_effect'",
  );
  ctx.faults.zombiesFired = Number(zombieRows.rows[0]!.fired);
  await pool.query('DELETE FROM fault_injections');
  ctx.note(`removed every fault (${ctx.faults.zombiesFired} zombie attempts fired)`);
}
