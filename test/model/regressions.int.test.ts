import {
  ArmFault,
  CancelViaApi,
  enabledKinds,
  KillConnections,
  Pause,
  PlaceOrder,
  PRELUDE,
  RetryParked,
  Terminate,
  Transfer,
  type ModelCommand,
} from './commands';
import { describeFailures, runModel } from './run';
import { connectInfrastructure, type SharedInfrastructure } from './system';

/**
 * Counterexamples the model test found that are NOT in the known-defect list, each replayed
 * as the exact command sequence (after the usual prelude: acc-0 and acc-1 funded, sku-a and
 * sku-b stocked).
 */

let infra: SharedInfrastructure;
beforeAll(async () => {
  infra = await connectInfrastructure();
});
afterAll(async () => infra?.env.teardown());

const kinds = enabledKinds({});

async function expectNoBrokenInvariant(commands: ModelCommand[]) {
  const report = await runModel(infra, commands, kinds);
  expect(describeFailures(report)).toBe('');
}

test('found by the model: a cancel sent while the charge is in flight waits for it, and is accepted when the charge is refused (was: refused as "the payment was taken", then the order ended CANCELLED)', async () => {
  // acc-2 is never opened: the charge is refused. The armed fault makes its first attempt
  // stall (6 s), so the cancel arrives while the pivot is in flight and is refused with
  // "the payment was taken"; then the charge is refused and the order is cancelled after all.
  await expectNoBrokenInvariant([
    ...PRELUDE,
    new ArmFault('debitAccount', 'delay_before_effect'),
    new PlaceOrder(
      {
        customer: 'cust-1',
        account: 'acc-2',
        lines: [{ sku: 'sku-a', quantity: 1, unitPrice: 4_999 }],
        country: 'FR',
      },
      kinds,
    ),
    new Pause(2_000),
    new CancelViaApi(0),
  ]);
});

test('found by the model: the first requests after Postgres terminated every connection do not answer 500', async () => {
  // Found by seed 111 (shrunk from a longer run): pg_terminate_backend on every connection
  // of the database (a failover, an administrator, a proxy's idle timeout), then a transfer
  // sent twice at once: the requests meet dead pooled connections and answer 500. Timing-
  // dependent (the pool drops a dead idle client only once its socket error is processed):
  // this sequence failed 5 times out of 5 here; without the later commands it passed once.
  await expectNoBrokenInvariant([
    ...PRELUDE,
    new KillConnections('all'),
    new Transfer('acc-0', 'acc-1', 74, 2),
    new PlaceOrder(
      {
        customer: 'cust-1',
        account: 'acc-1',
        lines: [{ sku: 'sku-b', quantity: 2, unitPrice: 498 }],
        country: 'FR',
      },
      kinds,
    ),
    new RetryParked(),
  ]);
});

test('found by the model: an order whose saga was terminated right after it was placed is finished by the abandoned-saga reconciler', async () => {
  await expectNoBrokenInvariant([
    ...PRELUDE,
    new PlaceOrder(
      {
        customer: 'cust-0',
        account: 'acc-0',
        lines: [{ sku: 'sku-a', quantity: 1, unitPrice: 50 }],
        country: 'GB',
      },
      kinds,
    ),
    new Terminate('order', 0),
  ]);
});
