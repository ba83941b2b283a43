import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import {
  buildMessage,
  CARRIER_STREAM,
  encodeMessage,
  decodeMessage,
  SAGAFLOW_STREAM,
  subjectFor,
} from '../../src/integration';
import { connectSharedTestNats, startTestNatsServer, type TestNats } from './../support/nats';

describe('the test nats-server', () => {
  let nats: TestNats;
  beforeAll(async () => {
    nats = await startTestNatsServer();
  });
  afterAll(() => nats.stop());

  it('is a JetStream server of 2.10 or newer, not the machine one on 4222', async () => {
    expect(nats.url).not.toContain(':4222');
    const [major, minor] = nats.version.split('.').map(Number);
    expect(major! * 100 + minor!).toBeGreaterThanOrEqual(210);
    const nc = await connectSharedTestNats();
    expect(nc.info?.jetstream).toBe(true);
    await nc.close();
  });

  it('creates both streams and drops a re-published message id', async () => {
    const nc = await nats.connect();
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info(CARRIER_STREAM)).config.subjects).toEqual(['carrier.>']);
    const message = buildMessage(
      'order.completed.v1',
      'o-1',
      {
        orderId: 'o-1',
        customerId: 'c-1',
        total: 500,
        currency: 'EUR',
        completedAt: '2026-01-01T00:00:00.000Z',
      },
      {
        eventId: 'e-1',
        streamId: 'order-o-1',
        version: 9,
        globalPosition: 42n,
        occurredAt: new Date(0),
      },
    );
    const js = jetstream(nc);
    const subject = subjectFor('order.completed.v1', 'o-1');
    expect(subject).toBe('sagaflow.order.o-1.completed.v1');
    const first = await js.publish(subject, encodeMessage(message), { msgID: message.id });
    const second = await js.publish(subject, encodeMessage(message), { msgID: message.id });
    expect(first.duplicate).toBe(false);
    expect(second.duplicate).toBe(true);
    expect(second.seq).toBe(first.seq);
    const stored = await jsm.streams.getMessage(SAGAFLOW_STREAM, { seq: first.seq });
    expect(decodeMessage(stored!.data)).toEqual(message);
    // Stream settings survive a restart of the server (file store).
    await nats.restart();
    expect(await nats.messageCount()).toBe(1);
  });
});
