import '../api/support/esmShim';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { FastifyInstance } from 'fastify';
import { CommandHandler } from '../../src/application/commandHandler';
import { buildApp } from '../../src/api/app';
import { projectionReadModels } from '../../src/api/projectionReadModels';
import { loadConfig } from '../../src/config';
import { Metrics } from '../../src/observability/metrics';
import {
  getProjectionStatuses,
  listDeadLetters,
  ProjectionRunner,
  skipStuckEvent,
} from '../../src/projections';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';
import { connectTestTemporal, uniqueTaskQueue } from '../support/temporal';
import { appendTicks, logProjection, statusOf, waitCaughtUp, waitFor } from './support';

/**
 * The operator's view of a failing projection over HTTP: status, metrics, skip and dead
 * letters. The API serves the same projections module, handed a test projection.
 */
describe('admin API for a failing projection', () => {
  let db: TestDatabase;
  let temporal: TestWorkflowEnvironment;
  let app: FastifyInstance;
  let runner: ProjectionRunner;
  const projection = logProjection('stuck_log', {
    poison: (event) => (event.data as { marker?: string }).marker === 'poison',
  });
  const projections = [projection];
  const keys = { admin: 'a-key', operator: 'o-key' };

  beforeAll(async () => {
    db = await createTestDatabase('projection_admin');
    temporal = await connectTestTemporal();
    const statuses = () => getProjectionStatuses(db.pool, projections);
    app = buildApp(
      {
        pool: db.pool,
        eventStore: db.eventStore,
        commands: new CommandHandler(db.eventStore),
        temporal: temporal.client,
        config: loadConfig({
          TEMPORAL_TASK_QUEUE: uniqueTaskQueue('projection-admin'),
          LOG_LEVEL: 'silent',
          API_KEYS: `${keys.admin}:admin,${keys.operator}:operator`,
        }),
        readModels: {
          ...projectionReadModels(db.eventStore),
          getProjectionStatuses: statuses,
          skipProjectionEvent: (pool, name, request) =>
            skipStuckEvent({ pool, eventStore: db.eventStore }, name, request, projections),
          listDeadLetters: (pool, name) => listDeadLetters(pool, name, { projections }),
        },
        metrics: new Metrics({ defaultMetrics: false, projectionStatuses: statuses }),
      },
      { swaggerUi: false },
    );
    await app.ready();
    runner = new ProjectionRunner({
      pool: db.pool,
      eventStore: db.eventStore,
      projections,
      pollIntervalMs: 100,
      retryBaseMs: 5,
      maxAttempts: 2,
      failureRetryBaseMs: 60_000,
      log: () => {},
    });
  });
  afterAll(async () => {
    await runner?.stop();
    await app?.close();
    await temporal?.teardown();
    await db?.drop();
  });

  const inject = (
    method: 'GET' | 'POST',
    url: string,
    payload?: object,
    key: string = keys.admin,
  ) => app.inject({ method, url, headers: { 'x-api-key': key }, ...(payload && { payload }) });
  const fields = (problem: unknown) =>
    (problem as { errors?: Array<{ field: string }> }).errors?.map((e) => e.field) ?? [];
  const metric = async (name: string) => {
    const text = (await inject('GET', '/metrics')).body;
    const line = text.split('\n').find((l) => l.startsWith(`${name}{projection="stuck_log"}`));
    return line === undefined ? undefined : Number(line.split(' ').pop());
  };

  it('reports the stuck event, refuses a wrong skip, and a right skip moves it on', async () => {
    const positions = await appendTicks(db, 5, (i) => (i === 2 ? { marker: 'poison' } : {}));
    await runner.start();
    await waitFor(async () => (await statusOf(db, projection)).error !== null, 'the failure');

    const list = await inject('GET', '/admin/projections');
    expect(list.statusCode).toBe(200);
    const stuck = list
      .json<{ projections: Array<Record<string, unknown>> }>()
      .projections.find((p) => p.name === 'stuck_log');
    expect(stuck).toMatchObject({
      state: 'failing',
      checkpoint: positions[1]!.toString(),
      error: { position: positions[2]!.toString(), eventType: 'Tick' },
    });
    const error = stuck!.error as { eventId: string; message: string; attempts: number };
    expect(error.message).toContain(`poison event ${error.eventId}`);
    expect(error.attempts).toBeGreaterThanOrEqual(2);

    expect(await metric('sagaflow_projection_failing')).toBe(1);
    expect(await metric('sagaflow_projection_errors_total')).toBeGreaterThanOrEqual(2);
    const lastError = await metric('sagaflow_projection_last_error_timestamp_seconds');
    expect(Math.abs(lastError! - Date.now() / 1000)).toBeLessThan(60);

    // Bad input: 400 naming the field; too weak a role: 403; unknown projection: 404.
    const badPosition = await inject('POST', '/admin/projections/stuck_log/skip', {
      position: 'abc',
      reason: 'x',
    });
    expect(badPosition.statusCode).toBe(400);
    expect(badPosition.headers['content-type']).toContain('application/problem+json');
    expect(fields(badPosition.json())).toContain('position');
    const noReason = await inject('POST', '/admin/projections/stuck_log/skip', {
      position: positions[2]!.toString(),
    });
    expect(noReason.statusCode).toBe(400);
    expect(fields(noReason.json())).toContain('reason');
    const operator = await inject(
      'POST',
      '/admin/projections/stuck_log/skip',
      { position: positions[2]!.toString(), reason: 'bad event' },
      keys.operator,
    );
    expect(operator.statusCode).toBe(403);
    const unknown = await inject('POST', '/admin/projections/nope/skip', {
      position: '1',
      reason: 'x',
    });
    expect(unknown.statusCode).toBe(404);

    // The wrong event: 409, and nothing recorded or moved.
    const wrong = await inject('POST', '/admin/projections/stuck_log/skip', {
      position: positions[3]!.toString(),
      reason: 'bad event',
    });
    expect(wrong.statusCode).toBe(409);
    expect(wrong.json()).toMatchObject({ code: 'NOT_STUCK_ON_EVENT' });
    expect((await inject('GET', '/admin/projections/stuck_log/dead-letters')).json()).toEqual({
      deadLetters: [],
    });
    expect((await statusOf(db, projection)).checkpoint).toBe(positions[1]!.toString());

    // The right one, as a number (positions are also accepted as decimal strings).
    const skipped = await inject('POST', '/admin/projections/stuck_log/skip', {
      position: Number(positions[2]),
      reason: 'malformed by a test',
    });
    expect(skipped.statusCode).toBe(200);
    expect(skipped.json()).toMatchObject({
      projection: 'stuck_log',
      position: positions[2]!.toString(),
      eventId: error.eventId,
      eventType: 'Tick',
      error: error.message,
      reason: 'malformed by a test',
    });
    expect(skipped.json<{ skippedBy: string }>().skippedBy).toMatch(/^key-/);
    const caughtUp = await waitCaughtUp(db, projection, 5_000);
    expect(caughtUp.state).toBe('running');
    expect(await metric('sagaflow_projection_failing')).toBe(0);

    const deadLetters = await inject('GET', '/admin/projections/stuck_log/dead-letters');
    expect(deadLetters.statusCode).toBe(200);
    expect(deadLetters.json()).toEqual({ deadLetters: [skipped.json()] });
    const again = await inject('POST', '/admin/projections/stuck_log/skip', {
      position: positions[2]!.toString(),
      reason: 'twice',
    });
    expect(again.statusCode).toBe(409);
    expect((await inject('GET', '/admin/projections/nope/dead-letters')).statusCode).toBe(404);
  });
});
