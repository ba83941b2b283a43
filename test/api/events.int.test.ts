/* eslint-disable @typescript-eslint/no-unsafe-member-access -- assertions on JSON response bodies */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApiTestApp, type ApiTestApp } from './support/apiApp';

let t: ApiTestApp;
let base: string;
beforeAll(async () => {
  t = await createApiTestApp('sse');
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
});
afterAll(async () => t?.close());

interface SseEvent {
  id: string;
  event: string;
  data: { streamId: string; type: string; globalPosition: string };
}

/** Reads `count` SSE events, then disconnects. */
function readEvents(count: number, headers: Record<string, string> = {}): Promise<SseEvent[]> {
  return new Promise((resolve, reject) => {
    const events: SseEvent[] = [];
    const request = http.get(
      `${base}/events`,
      { headers: { accept: 'text/event-stream', ...headers } },
      (response) => {
        expect(response.headers['content-type']).toMatch(/^text\/event-stream/);
        let buffer = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          buffer += chunk;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const fields = Object.fromEntries(
              block
                .split('\n')
                .filter((line) => line && !line.startsWith(':'))
                .map((line) => {
                  const colon = line.indexOf(':');
                  return [line.slice(0, colon), line.slice(colon + 1).trimStart()];
                }),
            ) as Record<string, string>;
            if (!fields.id) continue;
            events.push({
              id: fields.id,
              event: fields.event!,
              data: JSON.parse(fields.data!) as SseEvent['data'],
            });
            if (events.length === count) {
              request.destroy();
              resolve(events);
            }
          }
        });
      },
    );
    request.on('error', (error) => {
      if (events.length < count) reject(error);
    });
  });
}

const open = (accountId: string) =>
  t.app.inject({
    method: 'POST',
    url: '/accounts',
    payload: { ownerId: 'o', accountId, initialDeposit: 5 },
  });

test('live feed: ids are global positions, resumes after Last-Event-ID, delivers new events live', async () => {
  await open('sse-a'); // AccountOpened + FundsDeposited
  await open('sse-b');
  const first = await readEvents(3);
  expect(first.map((e) => e.event)).toEqual(['AccountOpened', 'FundsDeposited', 'AccountOpened']);
  expect(first.map((e) => e.id)).toEqual(first.map((e) => e.data.globalPosition));

  // Resume after the third: the fourth comes next, then one written while connected.
  const resumed = readEvents(3, { 'last-event-id': first[2]!.id });
  await new Promise((resolve) => setTimeout(resolve, 200));
  await open('sse-c');
  const next = await resumed;
  expect(next.map((e) => [e.data.streamId, e.event])).toEqual([
    ['account-sse-b', 'FundsDeposited'],
    ['account-sse-c', 'AccountOpened'],
    ['account-sse-c', 'FundsDeposited'],
  ]);
});

test('a bad Last-Event-ID is a 400 problem', async () => {
  const response = await t.app.inject({
    method: 'GET',
    url: '/events',
    headers: { accept: 'text/event-stream', 'last-event-id': 'abc' },
  });
  expect(response.statusCode).toBe(400);
  expect(response.json().errors[0].field).toBe('last-event-id');
});
