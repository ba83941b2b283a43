/** Submitting one saga: its POST sent `copies` times at once, the answers compared. */
import type { ChaosContext, WorkItem } from '../context';
import type { SagaRecord } from '../sagaRecord';
import { mapLimit } from '../util';

type Accepted = { orderId?: string; transferId?: string; sagaId: string; total?: number };

export async function submit(ctx: ChaosContext, item: WorkItem): Promise<void> {
  const { options, duplicates } = ctx;
  const attempts = await Promise.allSettled(
    Array.from({ length: item.copies }, () =>
      ctx.system.http.post<Accepted>(item.path, item.body, item.key),
    ),
  );
  const ok = attempts.flatMap((a) => (a.status === 'fulfilled' ? [a.value.body] : []));
  if (item.copies > 1) {
    duplicates.keysDuplicated += 1;
    duplicates.extraRequests += item.copies - 1;
    duplicates.failedCopies += attempts.length - ok.length;
    const ids = new Set(ok.map((b) => `${b.orderId ?? b.transferId}|${b.sagaId}`));
    if (ids.size > 1) duplicates.mismatched += 1;
  }
  const first = ok[0];
  if (!first) {
    duplicates.submitFailures += 1;
    const reason = attempts.find((a): a is PromiseRejectedResult => a.status === 'rejected');
    ctx.note(
      `submit of ${item.key} failed: ${String(reason?.reason instanceof Error ? reason.reason.message : reason?.reason)}`,
    );
  } else {
    const record: SagaRecord = {
      kind: item.kind,
      key: item.key,
      id: (first.orderId ?? first.transferId)!,
      sagaId: first.sagaId,
      amount: item.kind === 'order' ? first.total! : (item.body.amount as number),
      ...(item.lines && { lines: item.lines }),
      big: item.big,
    };
    ctx.sagas.push(record);
    ctx.sagaByKey.set(item.key, record);
  }
  ctx.submitted += 1;
  if (ctx.submitted % Math.max(10, Math.round(options.sagas / 10)) === 0)
    ctx.note(`submitted ${ctx.submitted}/${options.sagas}`);
}

/** Late duplicates: replays a sample of keys once their first answers are stored. */
export async function replayLateDuplicates(ctx: ChaosContext): Promise<void> {
  const { duplicates, rnd } = ctx;
  const lateSample = ctx.items
    .filter((i) => ctx.sagaByKey.has(i.key))
    .filter(() => rnd.chance(0.05))
    .slice(0, 20);
  await mapLimit(lateSample, 4, async (item) => {
    const res = await ctx.system.http
      .post<{ orderId?: string; transferId?: string; sagaId: string }>(
        item.path,
        item.body,
        item.key,
      )
      .catch(() => undefined);
    duplicates.lateReplays += 1;
    const rec = ctx.sagaByKey.get(item.key)!;
    if (
      !res ||
      (res.body.orderId ?? res.body.transferId) !== rec.id ||
      res.body.sagaId !== rec.sagaId
    )
      duplicates.lateMismatched += 1;
  });
}
