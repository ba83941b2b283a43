/** The workload: which sagas a run submits, drawn from the run's seeded randomness. */
import type { ChaosContext, WorkItem } from '../context';

const COUNTRIES = ['GB', 'FR', 'DE', 'NL', 'US'];

type Draw = Pick<WorkItem, 'index' | 'key' | 'copies'>;

/** The sagas to submit, in order. Draws from `ctx.rnd` in a fixed order (a seed replays it). */
export function planWorkload(ctx: ChaosContext): WorkItem[] {
  const { options, rnd, runId } = ctx;
  return Array.from({ length: options.sagas }, (_, index) => {
    const draw: Draw = {
      index,
      key: `${runId}-saga-${index}`,
      copies: rnd.chance(options.duplicateShare) ? rnd.int(2, 3) : 1,
    };
    return rnd.chance(options.transferShare) ? transferItem(ctx, draw) : orderItem(ctx, draw);
  });
}

/** A transfer between two customers; a few ask for more than any balance holds. */
function transferItem({ options, rnd, seeded: { customers } }: ChaosContext, draw: Draw): WorkItem {
  const from = rnd.int(0, customers - 1);
  const to = (from + rnd.int(1, customers - 1)) % customers;
  const amount = rnd.chance(options.hopelessTransferShare) ? 10_000_000 : rnd.int(100, 8_000);
  return {
    ...draw,
    kind: 'transfer',
    path: '/transfers',
    big: false,
    body: { fromAccountId: `c${from}`, toAccountId: `c${to}`, amount },
  };
}

/** An order of one or two SKUs; a few above the approval threshold, a few to an unserved country. */
function orderItem({ options, rnd, seeded }: ChaosContext, draw: Draw): WorkItem {
  const i = draw.index;
  const customer = rnd.int(0, seeded.customers - 1);
  const big = rnd.chance(options.bigOrderShare);
  const lineCount = big ? 1 : rnd.int(1, 2);
  const chosen = new Set<string>();
  while (chosen.size < lineCount) chosen.add(rnd.pick(seeded.skus));
  const lines = [...chosen].map((sku) => ({
    sku,
    quantity: big ? 5 : rnd.int(1, 3),
    unitPrice: big ? Math.ceil(options.approvalThreshold / 5) + 100 : rnd.int(300, 2_500),
  }));
  const country = rnd.chance(options.unservedShare) ? 'KP' : rnd.pick(COUNTRIES);
  return {
    ...draw,
    kind: 'order',
    path: '/orders',
    big,
    lines: lines.map(({ sku, quantity }) => ({ sku, quantity })),
    body: {
      customerId: `cust-${customer}`,
      paymentAccountId: `c${customer}`,
      items: lines,
      shippingAddress: {
        name: `Customer ${customer}`,
        line1: `${i} Chaos Road`,
        city: 'Testville',
        postalCode: `T${i}`,
        country,
      },
    },
  };
}
