/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument -- assertions on JSON response bodies */
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

/**
 * Waits until no event of this database is held back: the horizon is the whole server's, so
 * another test database's open transaction delays our reads too.
 */
async function settled(): Promise<void> {
  for (let i = 0; (await t.db.eventStore.readerHoldback()).heldBackEvents > 0; i++) {
    if (i > 500) throw new Error('events stay held back');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
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

test('a Last-Event-ID beyond Postgres bigint is a 400 naming the header, before any 200', async () => {
  for (const id of ['9223372036854775808', '18446744073709551615', '99999999999999999999']) {
    const response = await t.app.inject({
      method: 'GET',
      url: '/events',
      headers: { accept: 'text/event-stream', 'last-event-id': id },
    });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.json().errors[0]).toMatchObject({ field: 'last-event-id', in: 'headers' });
  }
  const tooBig = await t.app.inject({ method: 'GET', url: '/events?after=9223372036854775808' });
  expect(tooBig.statusCode).toBe(400);
  expect(tooBig.json().errors[0].field).toBe('after');
});

describe('cursors that are no event position', () => {
  /** A position an append took and gave back: its transaction rolled back. */
  async function rolledBackPosition(): Promise<bigint> {
    const client = await t.db.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await client.query<{ first_position: string }>(
        `SELECT first_position FROM append_to_stream('gap-stream', 'gap', 'any', ARRAY[gen_random_uuid()], ARRAY['Gap'], ARRAY[1], ARRAY['{}'::jsonb], ARRAY['{}'::jsonb])`,
      );
      await client.query('ROLLBACK');
      return BigInt(result.rows[0]!.first_position);
    } finally {
      client.release();
    }
  }
  async function page(after: bigint | string) {
    await settled();
    const response = await t.app.inject({ method: 'GET', url: `/events?after=${after}` });
    return response.json<{
      events: Array<{ globalPosition: string; streamId: string }>;
      lastPosition: string;
    }>();
  }

  test('GET /events after a gap, head + 1 or far beyond the head re-delivers nothing', async () => {
    await open('gap-before');
    const gap = await rolledBackPosition();
    await open('gap-after');
    const fromGap = await page(gap);
    expect(fromGap.events.map((e) => e.streamId)).toEqual([
      'account-gap-after',
      'account-gap-after',
    ]);
    expect(fromGap.events.every((e) => BigInt(e.globalPosition) > gap)).toBe(true);

    const head = BigInt(fromGap.lastPosition);
    expect((await page(head + 1n)).events).toEqual([]);
    const far = await page('999999999999');
    expect(far).toEqual({ events: [], lastPosition: '999999999999' });
    await open('gap-later');
    expect((await page('999999999999')).events).toEqual([]);
  });

  test('SSE resuming from a gap starts right after it', async () => {
    await open('sse-gap-before');
    const gap = await rolledBackPosition();
    await open('sse-gap-after');
    const events = await readEvents(2, { 'last-event-id': gap.toString() });
    expect(events.map((e) => [e.data.streamId, e.event])).toEqual([
      ['account-sse-gap-after', 'AccountOpened'],
      ['account-sse-gap-after', 'FundsDeposited'],
    ]);
  });
});

describe('live feeds share the store', () => {
  /** An SSE connection held open; resolves with the response once headers arrive. */
  function connect(): Promise<{ response: http.IncomingMessage; close(): void; blocks: string[] }> {
    return new Promise((resolve, reject) => {
      const blocks: string[] = [];
      const request = http.get(
        `${base}/events?after=999999999999`,
        { headers: { accept: 'text/event-stream' } },
        (response) => {
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => blocks.push(chunk));
          resolve({ response, blocks, close: () => request.destroy() });
        },
      );
      request.on('error', reject);
    });
  }

  test('idle feeds do not each poll the store, and all of them still get new events', async () => {
    const feeds = await Promise.all(Array.from({ length: 5 }, () => connect()));
    try {
      await new Promise((resolve) => setTimeout(resolve, 200)); // settle
      const reads = jest.spyOn(t.db.eventStore, 'readAll');
      // 1 s at ssePollMs = 50: one poll loop per feed would read 5 × 20 = 100 times.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(reads.mock.calls.length).toBeLessThanOrEqual(5);
      reads.mockRestore();
    } finally {
      for (const feed of feeds) feed.close();
    }

    // Live delivery still works through the shared watcher.
    const live = readEvents(1, { 'last-event-id': (await page()).lastPosition });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await open('shared-watcher');
    expect((await live)[0]?.data.streamId).toBe('account-shared-watcher');
  });

  async function page() {
    await settled();
    const response = await t.app.inject({ method: 'GET', url: '/events?after=0&limit=1000' });
    return response.json<{ lastPosition: string }>();
  }

  test('beyond SSE_MAX_CONNECTIONS a feed is refused with 503 and Retry-After, until one closes', async () => {
    const capped = await createApiTestApp('sse-cap', { SSE_MAX_CONNECTIONS: '2' });
    const opened: Array<{ close(): void }> = [];
    try {
      await capped.app.listen({ port: 0, host: '127.0.0.1' });
      const url = `http://127.0.0.1:${(capped.app.server.address() as AddressInfo).port}/events`;
      const get = (): Promise<{
        status: number;
        headers: http.IncomingHttpHeaders;
        body: string;
        close(): void;
      }> =>
        new Promise((resolve, reject) => {
          const request = http.get(
            url,
            { headers: { accept: 'text/event-stream' } },
            (response) => {
              let body = '';
              response.setEncoding('utf8');
              response.on('data', (chunk: string) => (body += chunk));
              const result = {
                status: response.statusCode ?? 0,
                headers: response.headers,
                close: () => request.destroy(),
                get body() {
                  return body;
                },
              };
              opened.push(result);
              if (response.statusCode === 200) resolve(result);
              else response.on('end', () => resolve(result));
            },
          );
          request.on('error', reject);
        });
      const first = await get();
      const second = await get();
      expect([first.status, second.status]).toEqual([200, 200]);
      const third = await get();
      expect(third.status).toBe(503);
      expect(third.headers['retry-after']).toBe('5');
      expect(third.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(third.body)).toMatchObject({ status: 503, code: 'SSE_CAPACITY' });
      // JSON pages are not feeds: still served.
      expect((await capped.app.inject({ method: 'GET', url: '/events' })).statusCode).toBe(200);

      first.close();
      await new Promise((resolve) => setTimeout(resolve, 200));
      const again = await get();
      expect(again.status).toBe(200);
      again.close();
      second.close();

      const docs = (await capped.app.inject({ method: 'GET', url: '/docs/json' })).json();
      expect(Object.keys(docs.paths['/events'].get.responses)).toContain('503');
    } finally {
      for (const connection of opened) connection.close();
      await capped.close();
    }
  });

  test('a client that leaves while its feed starts does not keep its place under the cap', async () => {
    const capped = await createApiTestApp('sse-leave', { SSE_MAX_CONNECTIONS: '1' });
    try {
      await capped.app.listen({ port: 0, host: '127.0.0.1' });
      const url = `http://127.0.0.1:${(capped.app.server.address() as AddressInfo).port}/events`;
      const store = capped.db.eventStore;
      const read = store.readAll.bind(store);
      let left!: () => void;
      const leaving = new Promise<void>((resolve) => (left = resolve));
      // The first read of the feed waits until the client has gone.
      jest.spyOn(store, 'readAll').mockImplementationOnce(async (options) => {
        await leaving;
        await new Promise((resolve) => setTimeout(resolve, 100));
        return read(options);
      });
      const request = http.get(url, { headers: { accept: 'text/event-stream' } });
      request.on('error', () => undefined);
      await new Promise((resolve) => setTimeout(resolve, 200));
      request.destroy();
      left();
      await new Promise((resolve) => setTimeout(resolve, 400));

      const status = await new Promise<number>((resolve, reject) => {
        const next = http.get(url, { headers: { accept: 'text/event-stream' } }, (response) => {
          resolve(response.statusCode ?? 0);
          next.destroy();
        });
        next.on('error', reject);
      });
      expect(status).toBe(200);
    } finally {
      await capped.close();
    }
  });
});
