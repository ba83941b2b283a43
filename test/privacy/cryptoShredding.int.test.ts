import { Worker } from '@temporalio/worker';
import { createDecipheriv } from 'node:crypto';
import { orderDecider } from '../../src/domain/order';
import { shipmentDecider } from '../../src/domain/shipment';
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

interface StoredSealedField {
  gen?: number;
  iv: string;
  tag: string;
  data: string;
}

/** The sealed name field of an order's OrderPlaced as stored (generation 1 when unnamed). */
async function sealedName(h: SagaHarness, streamId: string) {
  const [raw] = await h.db.eventStore.readStream(streamId, { raw: true });
  const name = (raw?.data as { shippingAddress: { name: StoredSealedField } }).shippingAddress.name;
  return { ...name, gen: name.gen ?? 1 };
}

/** AES-256-GCM open, as an attacker holding a key would try it. */
function openWith(key: Buffer, field: StoredSealedField, associatedData: string): unknown {
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(field.iv, 'base64'));
  decipher.setAAD(Buffer.from(associatedData));
  decipher.setAuthTag(Buffer.from(field.tag, 'base64'));
  const text = Buffer.concat([
    decipher.update(Buffer.from(field.data, 'base64')),
    decipher.final(),
  ]).toString('utf8');
  return JSON.parse(text) as unknown;
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

  it('seals a returning customer’s new order under a new key generation while the erased order stays erased', async () => {
    await h.openAccount('back-acct', 10_000);
    await h.restock('back-sku', 5);
    const order = (orderId: string) =>
      h.placeOrder({
        orderId,
        customerId: 'c-back',
        paymentAccountId: 'back-acct',
        items: [{ sku: 'back-sku', quantity: 1, unitPrice: 1_000 }],
      });
    expect((await h.result((await order('back-1')).sagaId)).outcome).toBe('COMPLETED');
    expect(await h.db.eventStore.erasePersonalData(customerSubject('c-back'))).toBe(true);

    // The customer comes back after the erasure and orders again.
    const { sagaId } = await order('back-2');
    expect((await h.result(sagaId)).outcome).toBe('COMPLETED');
    const shipment = await loadAggregate(
      h.db.eventStore,
      shipmentDecider.streamId('back-2'),
      shipmentDecider,
    );
    expect(shipment.state).toMatchObject({ status: 'dispatched', destinationCountry: 'GB' });
    const [placedAgain] = await h.db.eventStore.readStream('order-back-2');
    expect(placedAgain?.data).toMatchObject({
      shippingAddress: { name: 'Ada Lovelace', line1: '1 Analytical St', city: 'London' },
    });
    expect(placedAgain?.metadata.personal_data).toBeUndefined();

    // What was held at the erasure stays erased; storage still holds no plaintext.
    const [placedBefore] = await h.db.eventStore.readStream('order-back-1');
    expect(placedBefore?.data).toMatchObject({
      shippingAddress: { name: ERASED, line1: ERASED, city: ERASED, postalCode: ERASED },
    });
    expect(placedBefore?.metadata.personal_data).toBe('erased');
    expect(await tablesContaining(h, 'Lovelace')).toEqual([]);

    // The new key cannot open the old ciphertext, and the old field names its own generation.
    const oldName = await sealedName(h, 'order-back-1');
    const newName = await sealedName(h, 'order-back-2');
    expect(oldName.gen).toBe(1);
    expect(newName.gen).toBe(2);
    const newKey = await h.db.pool.query<{ key: Buffer }>(
      'SELECT key FROM data_subject_keys WHERE subject_id = $1 AND generation = 2',
      [customerSubject('c-back')],
    );
    const key = newKey.rows[0]?.key;
    expect(key).toBeInstanceOf(Buffer);
    expect(openWith(key as Buffer, newName, `${customerSubject('c-back')}#2`)).toBe('Ada Lovelace');
    expect(() => openWith(key as Buffer, oldName, customerSubject('c-back'))).toThrow();
    expect(() => openWith(key as Buffer, oldName, `${customerSubject('c-back')}#2`)).toThrow();

    // The next erasure covers the new generation too.
    expect(await h.db.eventStore.erasePersonalData(customerSubject('c-back'))).toBe(true);
    const [erasedAgain] = await h.db.eventStore.readStream('order-back-2');
    expect(erasedAgain?.data).toMatchObject({ shippingAddress: { name: ERASED, country: 'GB' } });
  });

  it('gives a customer erased before their first order a readable address', async () => {
    expect(await h.db.eventStore.erasePersonalData(customerSubject('c-gone'))).toBe(false);
    await h.openAccount('gone-acct', 10_000);
    await h.restock('gone-sku', 5);
    const { sagaId } = await h.placeOrder({
      orderId: 'gone-1',
      customerId: 'c-gone',
      paymentAccountId: 'gone-acct',
      items: [{ sku: 'gone-sku', quantity: 1, unitPrice: 1_000 }],
    });
    expect((await h.result(sagaId)).outcome).toBe('COMPLETED');
    const [placed] = await h.db.eventStore.readStream('order-gone-1');
    expect(placed?.data).toMatchObject({ shippingAddress: { name: 'Ada Lovelace' } });
    const raw = await h.db.eventStore.readStream('order-gone-1', { raw: true });
    expect(JSON.stringify(raw[0]?.data)).not.toMatch(/Lovelace|Analytical/);
  });
});
