/**
 * Drive: submits the workload through the API while the fault plan runs beside it, paced
 * by how much has been submitted; the approver starts here and runs until shutdown.
 */
import { mapLimit, sleep } from '../util';
import { approveBigOrders } from './approver';
import { armZombies, firstZombies, planFaults, removeFaults } from './faults';
import type { ChaosPhase } from './runner';
import { submit } from './submit';
import { planWorkload } from './workload';

export const drivePhase: ChaosPhase = {
  name: 'drive',
  async run(ctx) {
    const { options } = ctx;
    ctx.items = planWorkload(ctx);
    const actions = planFaults(ctx);
    if (firstZombies(ctx) > 0) await armZombies(ctx, firstZombies(ctx));
    let driving = true;
    const chaos = (async () => {
      for (const action of actions) {
        while (driving && ctx.submitted / options.sagas < action.at) await sleep(200);
        await action
          .run()
          .catch((error: unknown) => ctx.note(`${action.name} failed: ${String(error)}`));
      }
    })();
    ctx.approver = approveBigOrders(ctx);
    await mapLimit(ctx.items, options.concurrency, (item) => submit(ctx, item));
    driving = false;
    ctx.note(
      `all ${ctx.items.length} sagas submitted (${ctx.sagas.length} accepted); waiting for remaining fault actions`,
    );
    await chaos;
    await removeFaults(ctx);
    const { workers, relay, loyalty } = ctx.system;
    for (const p of [...workers, relay, loyalty]) if (!p.running) p.start();
  },
};
