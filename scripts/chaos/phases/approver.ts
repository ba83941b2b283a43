/** The operator: approves every big order once it awaits approval, until shutdown. */
import type { ChaosContext } from '../context';
import { isTerminal } from '../sagaRecord';
import { sagaState } from '../sagaState';
import { sleep } from '../util';

export async function approveBigOrders(ctx: ChaosContext): Promise<void> {
  const { temporal, http, shutdown } = ctx.system;
  const approved = new Set<string>();
  while (!shutdown.requested) {
    const pending = ctx.sagas.filter(
      (s) => s.big && !approved.has(s.id) && !isTerminal(s.kind, s.finalStatus),
    );
    for (const saga of pending) {
      const state = await sagaState(temporal, saga.sagaId).catch(() => undefined);
      if (state?.searchStatus === 'AWAITING_APPROVAL') {
        await http.post(`/orders/${saga.id}/approve`, { approvedBy: 'chaos' }).then(
          () => {
            approved.add(saga.id);
            ctx.approvals.approved += 1;
          },
          (error: unknown) => ctx.note(`approve ${saga.id}: ${String(error)}`),
        );
      } else if (state && state.closed) approved.add(saga.id);
    }
    await sleep(1_500);
  }
}
