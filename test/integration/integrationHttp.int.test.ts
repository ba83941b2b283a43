import '../api/support/esmShim';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/app';
import { projectionReadModels } from '../../src/api/projectionReadModels';
import type { IntegrationMessage } from '../../src/integration';
import { buildAsyncApiDocument } from '../../src/integration/asyncapi';
import { IntegrationRelay } from '../../src/integration/relay/relay';
import { getRelayStatus } from '../../src/integration/relay/status';
import { Metrics } from '../../src/observability/metrics';
import { startTestNatsServer, type StoredMessage, type TestNats } from '../support/nats';
import { SagaHarness } from '../support/sagaHarness';

/** The HTTP side: the feed serves what the relay published, in the same order; state and metrics. */
describe('integration events over HTTP', () => {
  const h = new SagaHarness('integration_http', { config: { LOG_LEVEL: 'silent' } });
  let nats: TestNats;
  let relay: IntegrationRelay;
  let app: FastifyInstance;
  let base: string;
  let published: StoredMessage[];

  beforeAll(async () => {
    await h.start();
    nats = await startTestNatsServer();
    relay = new IntegrationRelay({
      pool: h.db.pool,
      eventStore: h.db.eventStore,
      nats: await nats.connect('relay'),
      pollIntervalMs: 100,
    });
    await relay.start();
    app = buildApp(
      {
        pool: h.db.pool,
        eventStore: h.db.eventStore,
        commands: h.commands,
        temporal: h.client,
        config: h.config,
        readModels: projectionReadModels,
        metrics: new Metrics({
          defaultMetrics: false,
          relayStatus: () => getRelayStatus(h.db.pool),
        }),
      },
      { logger: false, swaggerUi: false, ssePollMs: 50 },
    );
    base = await app.listen({ port: 0, host: '127.0.0.1' });
    await h.openAccount('acc', 1_000_000);
    await h.restock('sku', 100);
    for (const id of ['a', 'b', 'c']) {
      const { sagaId } = await h.placeOrder({
        orderId: id,
        customerId: `c-${id}`,
        paymentAccountId: 'acc',
        items: [{ sku: 'sku', quantity: 1, unitPrice: 100 }],
      });
      await h.result(sagaId);
    }
    for (let i = 0; ; i++) {
      const status = await getRelayStatus(h.db.pool);
      if (status.lagEvents === 0) break;
      if (i > 300) throw new Error('relay does not catch up');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    published = await nats.readAll();
  });
  afterAll(async () => {
    await app?.close();
    await relay?.stop();
    await nats?.stop();
    await h.stop();
  });

  it('pages through the same messages, in the same order, as the stream holds', async () => {
    const seen: IntegrationMessage[] = [];
    let after = '0';
    for (;;) {
      const response = await fetch(`${base}/integration-events?after=${after}&limit=3`);
      expect(response.status).toBe(200);
      const page = (await response.json()) as {
        messages: IntegrationMessage[];
        lastPosition: string;
      };
      seen.push(...page.messages);
      if (page.lastPosition === after) break;
      after = page.lastPosition;
    }
    expect(published.length).toBe(12); // 3 orders x placed, captured, dispatched, completed
    expect(seen).toEqual(published.map((m) => m.message));
  });

  it('streams them over SSE and resumes after Last-Event-ID', async () => {
    const read = async (headers: Record<string, string>, count: number) => {
      const controller = new AbortController();
      const response = await fetch(`${base}/integration-events`, {
        headers: { accept: 'text/event-stream', ...headers },
        signal: controller.signal,
      });
      const reader = response.body!.getReader();
      let text = '';
      const blocks = () => text.split('\n\n').filter((b) => b.includes('data: '));
      while (blocks().length < count) {
        const chunk = (await reader.read()) as { value?: Uint8Array };
        text += new TextDecoder().decode(chunk.value);
      }
      controller.abort();
      return blocks().map((block) => ({
        id: /^id: (\d+)$/m.exec(block)?.[1],
        message: JSON.parse(/^data: (.*)$/m.exec(block)![1]!) as IntegrationMessage,
      }));
    };
    const all = await read({}, published.length);
    expect(all.map((b) => b.message.id)).toEqual(published.map((m) => m.message.id));
    const resumeAt = all[5]!;
    expect(resumeAt.id).toBe(resumeAt.message.globalposition);
    const rest = await read({ 'last-event-id': resumeAt.id! }, published.length - 6);
    expect(rest.map((b) => b.message.id)).toEqual(all.slice(6).map((b) => b.message.id));
  });

  it('refuses a malformed Last-Event-ID with a problem naming the header', async () => {
    const response = await fetch(`${base}/integration-events`, {
      headers: { accept: 'text/event-stream', 'last-event-id': 'yesterday' },
    });
    expect(response.status).toBe(400);
    expect(JSON.stringify(await response.json())).toContain('last-event-id');
  });

  it('serves the AsyncAPI document, the relay state and its metrics', async () => {
    expect(await (await fetch(`${base}/asyncapi.json`)).json()).toEqual(
      JSON.parse(JSON.stringify(buildAsyncApiDocument())),
    );
    const state = (await (await fetch(`${base}/admin/relay`)).json()) as Record<string, unknown>;
    expect(state).toMatchObject({
      state: 'running',
      lagEvents: 0,
      publishedTotal: 12,
      publishFailuresTotal: 0,
    });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^sagaflow_relay_lag_events 0$/m);
    expect(metrics).toMatch(/^sagaflow_relay_lag_seconds 0$/m);
    expect(metrics).toMatch(/^sagaflow_relay_published_messages_total 12$/m);
    expect(metrics).toMatch(/^sagaflow_relay_publish_failures_total 0$/m);
  });
});
