import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import pino from 'pino';
import {
  buildMessage,
  encodeMessage,
  SAGAFLOW_STREAM,
  subjectFor,
  type ContractData,
  type ProducedContractType,
} from '../../src/integration';
import { listDeadLetters, replayDeadLetter } from '../../src/messaging/deadLetters';
import type { LoyaltyConfig } from '../../src/services/loyalty/config';
import { LOYALTY_CONSUMER } from '../../src/services/loyalty/consumer';
import {
  startLoyaltyService,
  type RunningLoyaltyService,
} from '../../src/services/loyalty/service';
import type { CustomerPoints } from '../../src/services/loyalty/store';
import { startTestNatsServer, type TestNats } from '../support/nats';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

const log = pino({ level: 'silent' });

/**
 * The loyalty service over a real nats-server and Postgres: points earned on
 * order.completed.v1 and taken back on payment.refunded.v1, once per message id, acked
 * after commit; poison messages dead-lettered after max_deliver and replayed.
 */
describe('loyalty service', () => {
  let db: TestDatabase;
  let nats: TestNats;
  let nc: NatsConnection;
  let services: RunningLoyaltyService[] = [];
  let config: LoyaltyConfig;
  let position = 0n;

  beforeAll(async () => {
    db = await createTestDatabase('loyalty');
    nats = await startTestNatsServer();
    nc = await nats.connect();
    config = {
      databaseUrl: db.url,
      natsUrl: nats.url,
      port: 0,
      host: '127.0.0.1',
      maxDeliver: 3,
      ackWaitMs: 1_500,
      retryDelayMs: 100,
      logLevel: 'silent',
    };
  });
  afterAll(async () => {
    for (const s of services) await s.stop().catch(() => undefined);
    await nats?.stop();
    await db?.drop();
  });

  async function start(options: { beforeAck?: () => Promise<void>; conn?: NatsConnection } = {}) {
    const service = await startLoyaltyService({
      config,
      nc: options.conn ?? nc,
      log,
      ...(options.beforeAck && { beforeAck: options.beforeAck }),
    });
    services.push(service);
    return service;
  }
  async function stopAll() {
    for (const s of services) await s.stop();
    services = [];
  }

  /** Publishes as the relay does (Nats-Msg-Id = message id), or a copy with another Nats-Msg-Id. */
  async function publish<T extends ProducedContractType>(
    type: T,
    aggregateId: string,
    data: ContractData<T>,
    eventId: string,
    options: { resend?: boolean } = {},
  ) {
    position += 1n;
    const message = buildMessage(type, aggregateId, data, {
      eventId,
      streamId: `order-${aggregateId}`,
      version: 1,
      globalPosition: position,
      occurredAt: new Date(),
    });
    await jetstream(nc).publish(subjectFor(type, aggregateId), encodeMessage(message), {
      msgID: options.resend ? `${message.id}/resent` : message.id,
    });
    return message.id;
  }
  const completed = (orderId: string, customerId: string, total: number) =>
    publish(
      'order.completed.v1',
      orderId,
      { orderId, customerId, total, currency: 'EUR', completedAt: new Date().toISOString() },
      `completed-${orderId}`,
    );
  const refunded = (orderId: string, amount: number) =>
    publish(
      'payment.refunded.v1',
      orderId,
      { orderId, accountId: `acc-${orderId}`, amount, refundedAt: new Date().toISOString() },
      `refunded-${orderId}`,
    );

  async function points(
    service: RunningLoyaltyService,
    customerId: string,
  ): Promise<CustomerPoints> {
    const response = await fetch(`${service.url}/customers/${customerId}/points`);
    expect(response.status).toBe(200);
    return (await response.json()) as CustomerPoints;
  }
  async function drained() {
    const jsm = await jetstreamManager(nc);
    for (let i = 0; i < 150; i++) {
      const c = await jsm.consumers.info(SAGAFLOW_STREAM, LOYALTY_CONSUMER);
      if (c.num_pending === 0 && c.num_ack_pending === 0) return;
      await sleep(100);
    }
    throw new Error('loyalty consumer did not drain');
  }
  const inboxRows = async () =>
    Number(
      (await db.pool.query<{ count: string }>('SELECT count(*) FROM loyalty.inbox')).rows[0]!.count,
    );

  it('earns points on order.completed.v1 and takes them back on payment.refunded.v1, once each', async () => {
    const service = await start();
    await completed('o-1', 'cust-a', 12_345); // 123 points
    await completed('o-2', 'cust-a', 1_000); // 10 points
    await completed('o-2', 'cust-a', 1_000); // the relay again: JetStream drops it
    await publish(
      'order.completed.v1',
      'o-2',
      {
        orderId: 'o-2',
        customerId: 'cust-a',
        total: 1_000,
        currency: 'EUR',
        completedAt: new Date().toISOString(),
      },
      'completed-o-2',
      { resend: true },
    ); // a copy JetStream cannot recognise: the inbox drops it
    await drained();
    expect((await points(service, 'cust-a')).points).toBe(133);

    await refunded('o-2', 1_000);
    await refunded('o-3', 500); // refunded before it completed (another subject): earns nothing later
    await completed('o-3', 'cust-a', 500);
    await drained();
    const after = await points(service, 'cust-a');
    expect(after.points).toBe(123);
    expect(after.orders.sort((a, b) => a.orderId.localeCompare(b.orderId))).toEqual([
      { orderId: 'o-1', points: 123, refunded: false },
      { orderId: 'o-2', points: 0, refunded: true },
      { orderId: 'o-3', points: 0, refunded: true },
    ]);
    expect(await inboxRows()).toBe(5); // o-1, o-2, its refund, o-3's refund, o-3
  });

  it('answers 400 problem+json naming the field for a bad customer id, and 0 points for an unknown one', async () => {
    const service = services[0]!;
    const bad = await fetch(`${service.url}/customers/${encodeURIComponent('x y')}/points`);
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toContain('application/problem+json');
    expect(((await bad.json()) as { detail: string }).detail).toContain('customerId');
    expect((await points(service, 'nobody')).points).toBe(0);
  });

  it('a consumer that dies after its commit, before the ack, applies the message once', async () => {
    await stopAll();
    const doomed = await nats.connect('doomed-loyalty');
    let crashes = 0;
    await start({
      conn: doomed,
      beforeAck: async () => {
        crashes += 1;
        await doomed.close(); // the process dies here: no ack leaves it
        throw new Error('crashed before the ack');
      },
    });
    await completed('o-crash', 'cust-crash', 5_000); // 50 points
    for (let i = 0; i < 50 && crashes === 0; i++) await sleep(100);
    expect(crashes).toBe(1);
    await stopAll().catch(() => undefined);
    services = [];
    // Another process: the unacked message comes back after ack_wait, and is a duplicate.
    let redeliveries = 0;
    const service = await start({
      beforeAck: async () => {
        redeliveries += 1;
      },
    });
    for (let i = 0; i < 50 && redeliveries === 0; i++) await sleep(100);
    await drained();
    expect(redeliveries).toBe(1);
    expect((await points(service, 'cust-crash')).points).toBe(50);
  });

  it('dead-letters a message that fails max_deliver times, and a replay applies it once the cause is fixed', async () => {
    // A defect that refuses one order (as a bug or a bad row would).
    await db.pool.query(`
      CREATE FUNCTION loyalty.refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.order_id = 'o-poison' THEN RAISE EXCEPTION 'loyalty cannot apply order o-poison'; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER refuse_poison BEFORE INSERT OR UPDATE ON loyalty.order_points
        FOR EACH ROW EXECUTE FUNCTION loyalty.refuse_poison();`);
    const service = services[0]!;
    const poisonId = await completed('o-poison', 'cust-p', 2_000);
    await completed('o-after', 'cust-p', 3_000); // the consumer moves on past it
    await drained();
    expect((await points(service, 'cust-p')).points).toBe(30);
    const [dead] = await listDeadLetters(nc, LOYALTY_CONSUMER);
    expect(dead).toMatchObject({
      consumer: LOYALTY_CONSUMER,
      messageId: poisonId,
      deliveries: 3,
      originalStream: SAGAFLOW_STREAM,
      originalSubject: subjectFor('order.completed.v1', 'o-poison'),
      replays: [],
    });
    expect(dead!.error).toContain('loyalty cannot apply order o-poison');

    // The CLI lists it.
    const { stdout } = await promisify(execFile)(
      'npx',
      ['tsx', 'src/messaging/deadLettersCli.ts', 'list', LOYALTY_CONSUMER],
      { env: { ...process.env, NATS_URL: nats.url }, cwd: `${__dirname}/../..` },
    );
    expect(stdout).toContain(
      `#${dead!.sequence}  loyalty  ${subjectFor('order.completed.v1', 'o-poison')}`,
    );

    await db.pool.query('DROP TRIGGER refuse_poison ON loyalty.order_points');
    await replayDeadLetter(nc, dead!.sequence);
    await replayDeadLetter(nc, dead!.sequence); // twice by mistake: one replay
    for (let i = 0; i < 50 && (await points(service, 'cust-p')).points !== 50; i++)
      await sleep(100);
    expect((await points(service, 'cust-p')).points).toBe(50);
    const [after] = await listDeadLetters(nc, LOYALTY_CONSUMER);
    expect(after!.replays).toHaveLength(1);
  });

  it('dead-letters bytes that break their contract at once', async () => {
    await jetstream(nc).publish(
      subjectFor('order.completed.v1', 'o-junk'),
      new TextEncoder().encode('{"type":"order.completed.v1"}'),
    );
    await drained();
    const letters = await listDeadLetters(nc, LOYALTY_CONSUMER);
    const junk = letters.find(
      (l) => l.originalSubject === subjectFor('order.completed.v1', 'o-junk'),
    );
    expect(junk).toMatchObject({ deliveries: 1 });
    expect(junk!.error).toMatch(/breaks its contract/);
  });
});
