import fs from 'node:fs';
import path from 'node:path';
import type { RecordedEvent } from '../../src/eventstore';
import { deterministicId } from '../../src/eventstore/eventIds';
import { DEFAULT_PERSONAL_DATA_POLICY } from '../../src/eventstore/personalData/policy';
import {
  CONTRACTS,
  CONSUMED_CONTRACTS,
  contractProblems,
  messageIdFor,
  subjectFor,
  subjectToken,
} from '../../src/integration';
import { buildAsyncApiDocument } from '../../src/integration/asyncapi';
import { breakingChanges } from '../../src/integration/compatibility';
import { messagesOf } from '../../src/integration/relay/relay';
import { reasonCodeOf, Translator } from '../../src/integration/translation';

const root = path.join(__dirname, '..', '..');
const readJson = (file: string) =>
  JSON.parse(fs.readFileSync(path.join(root, file), 'utf8')) as Record<string, unknown>;
const REFRESH = 'run `npm run integration-docs` and commit the result';

describe('the contract catalogue', () => {
  it('names every contract <aggregate>.<event>.v<major>, with a meaning', () => {
    for (const contract of CONTRACTS) {
      expect(contract.type).toBe(`${contract.name}.v${contract.version}`);
      expect(contract.meaning.length).toBeGreaterThan(10);
    }
    expect(CONSUMED_CONTRACTS.map((c) => c.type)).toEqual(['shipment.delivered.v1']);
  });

  it('keeps every published schema compatible with the committed snapshot', () => {
    const snapshot = readJson('test/integration/contract-schemas.snapshot.json');
    for (const contract of CONTRACTS) {
      const current = JSON.parse(JSON.stringify(contract.schema)) as unknown;
      expect([
        contract.type,
        contract.type in snapshot ? 'recorded' : `not recorded: ${REFRESH}`,
      ]).toEqual([contract.type, 'recorded']);
      const problems = breakingChanges(snapshot[contract.type], current);
      // A breaking change is a new major version (order.placed.v2), published beside v1.
      expect({ [contract.type]: problems }).toEqual({ [contract.type]: [] });
      // Compatible (an optional property added): the snapshot must follow, for the next change.
      expect({ [contract.type]: current }).toEqual({ [contract.type]: snapshot[contract.type] });
    }
  });

  it('commits the AsyncAPI document it serves', () => {
    expect(readJson('docs/asyncapi.json')).toEqual(
      JSON.parse(JSON.stringify(buildAsyncApiDocument())),
    );
  });
});

describe('breakingChanges', () => {
  const base = {
    type: 'object',
    required: ['id', 'amount'],
    properties: { id: { type: 'string' }, amount: { type: 'integer', minimum: 0 } },
  };
  const changed = (patch: object) => ({ ...base, ...patch });

  it('accepts an optional property added', () => {
    expect(
      breakingChanges(
        base,
        changed({ properties: { ...base.properties, note: { type: 'string' } } }),
      ),
    ).toEqual([]);
  });

  it.each([
    [
      'a removed property',
      changed({ required: ['id'], properties: { id: { type: 'string' } } }),
      'amount: removed',
    ],
    [
      'a changed type',
      changed({ properties: { ...base.properties, amount: { type: 'string' } } }),
      'amount: type',
    ],
    [
      'a new required property',
      changed({
        required: ['id', 'amount', 'x'],
        properties: { ...base.properties, x: { type: 'string' } },
      }),
      'x: new required property',
    ],
    [
      'an optional one made required... or the reverse',
      changed({ required: ['id'] }),
      'amount: no longer required',
    ],
    [
      'a loosened constraint',
      changed({ properties: { ...base.properties, amount: { type: 'integer' } } }),
      'amount: minimum',
    ],
  ])('refuses %s', (_label, current, expected) => {
    expect(breakingChanges(base, current).join('\n')).toContain(expected);
  });
});

describe('subjects and ids', () => {
  it('puts the aggregate id in one token, encoding what NATS reserves', () => {
    expect(subjectFor('order.placed.v1', 'o-1')).toBe('sagaflow.order.o-1.placed.v1');
    expect(subjectFor('shipment.delivered.v1', 's-1')).toBe('carrier.shipment.s-1.delivered.v1');
    expect(subjectToken('a.b*c>d e%')).toBe('a%2Eb%2Ac%3Ed%20e%25');
  });

  it('derives the message id from the source event id and the contract', () => {
    expect(messageIdFor('e-1', 'order.placed.v1')).toBe(
      deterministicId('integration', 'e-1', 'order.placed.v1'),
    );
    expect(messageIdFor('e-1', 'order.placed.v1')).toBe(messageIdFor('e-1', 'order.placed.v1'));
    expect(messageIdFor('e-1', 'order.placed.v1')).not.toBe(
      messageIdFor('e-1', 'order.completed.v1'),
    );
    expect(messageIdFor('e-1', 'order.placed.v1')).not.toBe(messageIdFor('e-2', 'order.placed.v1'));
    // Names longer than the reused buffer, and multi-byte ones, hash the same way.
    for (const eventId of ['é'.repeat(400), 'x'.repeat(2000)]) {
      expect(messageIdFor(eventId, 'order.placed.v1')).toBe(
        deterministicId('integration', eventId, 'order.placed.v1'),
      );
    }
  });

  it('takes the reason code of a reason, never its free text', () => {
    expect(reasonCodeOf('APPROVAL_TIMED_OUT: no approval within 1d')).toBe('APPROVAL_TIMED_OUT');
    expect(reasonCodeOf('CUSTOMER_REQUEST')).toBe('CUSTOMER_REQUEST');
    expect(reasonCodeOf('customer changed their mind')).toBe('UNSPECIFIED');
  });
});

describe('translation', () => {
  let position = 0n;
  const event = (streamId: string, version: number, type: string, data: object): RecordedEvent => ({
    globalPosition: ++position,
    streamId,
    streamType: streamId.split('-')[0]!,
    version,
    eventId: `${streamId}/${version}`,
    type,
    schemaVersion: 1,
    data,
    metadata: { correlation_id: 'corr-1', causation_id: 'cmd-1' },
    transactionId: position,
    createdAt: new Date('2026-01-01T00:00:00Z'),
  });
  const placed = event('order-o-1', 1, 'OrderPlaced', {
    orderId: 'o-1',
    customerId: 'c-1',
    paymentAccountId: 'acc-1',
    items: [{ sku: 'sku-1', quantity: 2, unitPrice: 150, currency: 'EUR' }],
    total: 300,
    shippingAddress: {
      name: 'Ada',
      line1: '1 St',
      city: 'London',
      postalCode: 'N1',
      country: 'GB',
    },
    placedAt: '2026-01-01T00:00:00Z',
  });
  const stream = [placed, event('order-o-1', 2, 'OrderStockReserved', { orderId: 'o-1' })];
  const translator = () =>
    new Translator(async (streamId, toVersion) =>
      stream.filter((e) => e.streamId === streamId && e.version <= toVersion),
    );

  it('maps an intermediate step to nothing, and a fact to its contract', async () => {
    const t = translator();
    expect(await t.translate(stream[1]!)).toEqual([]);
    const [message] = messagesOf(placed, await t.translate(placed));
    expect(message!.message).toMatchObject({
      type: 'order.placed.v1',
      subject: 'o-1',
      correlationid: 'corr-1',
    });
    expect(contractProblems(message!.message)).toEqual([]);
  });

  it('never copies a personal field', async () => {
    const text = JSON.stringify(await translator().translate(placed));
    const fields = DEFAULT_PERSONAL_DATA_POLICY.OrderPlaced!.fields.map((f) => f.split('.').pop()!);
    for (const field of [...fields, 'shippingAddress', 'country'])
      expect(text).not.toContain(`"${field}"`);
    for (const value of ['Ada', 'London', 'N1']) expect(text).not.toContain(value);
  });

  it('learns the facts of earlier events from the stream after a restart (empty cache)', async () => {
    const completed = event('order-o-1', 7, 'OrderCompleted', { orderId: 'o-1' });
    expect(await translator().translate(completed)).toEqual([
      {
        type: 'order.completed.v1',
        aggregateId: 'o-1',
        data: {
          orderId: 'o-1',
          customerId: 'c-1',
          total: 300,
          currency: 'EUR',
          completedAt: '2026-01-01T00:00:00.000Z',
        },
      },
    ]);
  });

  it('maps an account movement only when it pays or refunds an order', async () => {
    const t = translator();
    const move = (type: string, reference: string) =>
      event('account-acc-1', 5, type, {
        accountId: 'acc-1',
        amount: 300,
        reference,
        balanceAfter: 0,
      });
    expect(
      (await t.translate(move('AccountDebited', 'order-o-1/payment'))).map((x) => x.type),
    ).toEqual(['payment.captured.v1']);
    expect(
      (await t.translate(move('AccountCredited', 'order-o-1/refund'))).map((x) => x.type),
    ).toEqual(['payment.refunded.v1']);
    expect(await t.translate(move('AccountCredited', 'order-o-1/revenue'))).toEqual([]);
    expect(await t.translate(move('AccountDebited', 'transfer-t-1/debit'))).toEqual([]);
  });
});
