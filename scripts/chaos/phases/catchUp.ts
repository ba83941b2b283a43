/** Catch-up: wait until the projections reflect every saga, count the workflows, stop the processes. */
import type { ChaosContext } from '../context';
import { waitFor } from '../util';
import type { ChaosPhase } from './runner';

/** Every checkpoint at the head, and the read-model statuses are Temporal's. */
async function projectionsCaughtUp(ctx: ChaosContext): Promise<boolean> {
  const { pool } = ctx.system;
  const head = Number(
    (await pool.query<{ h: string | null }>('SELECT max(global_position) AS h FROM events'))
      .rows[0]!.h ?? 0,
  );
  const behind = Number(
    (
      await pool.query<{ n: string }>(
        'SELECT count(*) AS n FROM projection_checkpoints WHERE position < $1',
        [head],
      )
    ).rows[0]!.n,
  );
  if (behind > 0) return false;
  const rows = await pool.query<{ id: string; status: string }>(
    'SELECT order_id AS id, status FROM order_summary UNION ALL SELECT transfer_id, status FROM transfer_summary',
  );
  const status = new Map(rows.rows.map((r) => [r.id, r.status]));
  return ctx.sagas.every((s) => status.get(s.id) === s.finalStatus);
}

export const catchUpPhase: ChaosPhase = {
  name: 'catch-up',
  async run(ctx) {
    const { system } = ctx;
    await waitFor('projections to catch up', 120_000, () => projectionsCaughtUp(ctx), false);
    ctx.workflowCount = (
      await system.temporal.workflow.count(`TaskQueue = "${ctx.taskQueue}"`)
    ).count;
    system.shutdown.requested = true;
    await ctx.approver;
    await Promise.all(system.processes.map((p) => p.stop()));
    ctx.note('stopped every process');
  },
};
