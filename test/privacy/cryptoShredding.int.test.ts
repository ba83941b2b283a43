import { Worker } from '@temporalio/worker';
import { orderDecider } from '../../src/domain/order';
import { customerSubject, ERASED, loadAggregate } from '../../src/eventstore';
import { SagaHarness } from '../support/sagaHarness';
import { bundleWorkflows } from '../support/temporal';

/** Every text column of every table, searched for a string (the "search of the database"). */
async function tablesContaining(h: SagaHarness, needle: string): Promise<string[]> {
  const tables = await h.db.pool.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
  );
  const found: string[] = [];
  for (const { table_name } of tables.rows) {
    const hit = await h.db.pool.query(
      `SELECT 1 FROM "${table_name}" t WHERE t::text ILIKE $1 LIMIT 1`,
      [`%${needle}%`],
    );
    if (hit.rowCount) found.push(table_name);
  }
  return found;
}

describe('crypto-shredding of personal data', () => {
  const h = new SagaHarness('shredding');
  beforeAll(() => h.start());
  afterAll(() => h.stop());

  it('keeps personal data out of plaintext storage and Temporal, and erases it by destroying the key', async () => {
    await h.openAccount('shred-acct', 10_000);
    await h.restock('shred-sku', 5);
    const { sagaId } = await h.placeOrder({
      orderId: 'shred-1',
      customerId: 'c-shred',
      paymentAccountId: 'shred-acct',
      items: [{ sku: 'shred-sku', quantity: 1, unitPrice: 1_000 }],
    });
    expect((await h.result(sagaId)).outcome).toBe('COMPLETED');

    // Readers see the address; storage holds only ciphertext.
    const [placed] = await h.db.eventStore.readStream('order-shred-1');
    expect(placed?.data).toMatchObject({
      shippingAddress: { name: 'Ada Lovelace', line1: '1 Analytical St', country: 'GB' },
    });
    expect(await tablesContaining(h, 'Lovelace')).toEqual([]);
    expect(await tablesContaining(h, 'Analytical')).toEqual([]);

    // Temporal never held it: workflows carry ids only.
    const history = await h.client.workflow.getHandle(sagaId).fetchHistory();
    const historyText = JSON.stringify(history);
    expect(historyText).not.toMatch(/Lovelace|Analytical/);

    // Erase: destroy the customer's key.
    expect(await h.db.eventStore.personalData?.erase(customerSubject('c-shred'))).toBe(true);
    const [erased] = await h.db.eventStore.readStream('order-shred-1');
    expect(erased?.data).toMatchObject({
      customerId: 'c-shred',
      shippingAddress: {
        name: ERASED,
        line1: ERASED,
        city: ERASED,
        postalCode: ERASED,
        country: 'GB',
      },
    });
    expect(erased?.metadata.personal_data).toBe('erased');

    // The events still load, the aggregate still folds, and the saga still replays.
    const order = await loadAggregate(h.db.eventStore, 'order-shred-1', orderDecider);
    expect(order.state.status).toBe('COMPLETED');
    const replay = await Worker.runReplayHistory(
      { workflowBundle: await bundleWorkflows() },
      history,
      sagaId,
    );
    expect(replay).toBeUndefined();
    const keyRow = await h.db.pool.query(
      'SELECT key, erased_at FROM data_subject_keys WHERE subject_id = $1',
      [customerSubject('c-shred')],
    );
    expect(keyRow.rows[0]).toMatchObject({ key: null, erased_at: expect.any(Date) as Date });
  });

  it('stores an erased customer’s new personal data as erased, never in clear', async () => {
    await h.db.eventStore.personalData?.erase(customerSubject('c-gone'));
    await h.openAccount('gone-acct', 10_000);
    await h.restock('gone-sku', 5);
    const { sagaId } = await h.placeOrder({
      orderId: 'gone-1',
      customerId: 'c-gone',
      paymentAccountId: 'gone-acct',
      items: [{ sku: 'gone-sku', quantity: 1, unitPrice: 1_000 }],
    });
    expect((await h.result(sagaId)).outcome).toBe('COMPLETED');
    const raw = await h.db.eventStore.readStream('order-gone-1', { raw: true });
    expect(JSON.stringify(raw[0]?.data)).not.toMatch(/Lovelace|Analytical/);
  });
});
