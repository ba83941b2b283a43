import {
  CryptoShredder,
  DEFAULT_PERSONAL_DATA_POLICY,
  ERASED,
  type RecordedEvent,
} from '../../src/eventstore';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

/** The shredder alone, against a real Postgres: key generations under concurrency. */
describe('personal-data key generations', () => {
  let db: TestDatabase;
  let shredder: CryptoShredder;
  beforeAll(async () => {
    db = await createTestDatabase('key_generations');
    shredder = new CryptoShredder(db.pool, DEFAULT_PERSONAL_DATA_POLICY);
  });
  afterAll(() => db?.drop());

  const placed = (customerId: string, name: string) => ({
    type: 'OrderPlaced',
    data: { customerId, shippingAddress: { name, country: 'GB' } },
  });
  /** A sealed event as a read would hand it to reveal. */
  const recorded = (event: { type: string; data: unknown }, version: number): RecordedEvent => ({
    globalPosition: BigInt(version),
    streamId: 'order-x',
    streamType: 'order',
    version,
    eventId: `00000000-0000-0000-0000-${String(version).padStart(12, '0')}`,
    type: event.type,
    schemaVersion: 1,
    data: event.data,
    metadata: {},
    transactionId: 1n,
    createdAt: new Date(),
  });
  const sealedGeneration = (event: { data: unknown }) =>
    (event.data as { shippingAddress: { name: { gen?: number } } }).shippingAddress.name.gen;
  const names = async (events: { type: string; data: unknown }[]) =>
    (await shredder.reveal(events.map(recorded))).map(
      (event) => (event.data as { shippingAddress: { name: unknown } }).shippingAddress.name,
    );
  const generations = async (subject: string) =>
    (
      await db.pool.query<{ generation: number; live: boolean }>(
        'SELECT generation, key IS NOT NULL AS live FROM data_subject_keys WHERE subject_id = $1 ORDER BY generation',
        [subject],
      )
    ).rows;

  it('concurrent writers agree on one key per generation; after erasure they agree on the next one', async () => {
    const first = await Promise.all(
      Array.from({ length: 12 }, (_, i) => shredder.protect([placed('c-many', `Ada ${i}`)])),
    );
    expect(new Set(first.map(([event]) => sealedGeneration(event!)))).toEqual(new Set([1]));
    expect(await names(first.flat())).toEqual(Array.from({ length: 12 }, (_, i) => `Ada ${i}`));

    expect(await shredder.erase('customer-c-many')).toBe(true);
    const second = await Promise.all(
      Array.from({ length: 12 }, (_, i) => shredder.protect([placed('c-many', `Grace ${i}`)])),
    );
    expect(new Set(second.map(([event]) => sealedGeneration(event!)))).toEqual(new Set([2]));
    expect(await names([...first.flat(), ...second.flat()])).toEqual([
      ...Array.from({ length: 12 }, () => ERASED),
      ...Array.from({ length: 12 }, (_, i) => `Grace ${i}`),
    ]);
    expect(await generations('customer-c-many')).toEqual([
      { generation: 1, live: false },
      { generation: 2, live: true },
    ]);

    // A later erasure destroys every generation; erasing again finds nothing to destroy.
    expect(await shredder.erase('customer-c-many')).toBe(true);
    expect(await shredder.erase('customer-c-many')).toBe(false);
    expect(await names(second.flat())).toEqual(Array.from({ length: 12 }, () => ERASED));
  });

  it('flags a field stored as "[erased]" in clear (an order placed after an erasure before generations) as erased', async () => {
    const [legacy] = await shredder.reveal([recorded(placed('c-legacy', ERASED), 1)]);
    expect(legacy?.metadata.personal_data).toBe('erased');
    const [live] = await shredder.reveal([recorded(placed('c-legacy', 'Ada'), 2)]);
    expect(live?.metadata.personal_data).toBeUndefined();
  });
});
