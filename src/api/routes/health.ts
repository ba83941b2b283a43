import type { RoutePlugin } from '../context';
import { Health, Readiness } from '../schemas/admin';

const withTimeout = <T>(promise: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms).unref(),
    ),
  ]);

async function check(run: () => Promise<unknown>): Promise<{ ok: boolean; error?: string }> {
  try {
    await run();
    return { ok: true };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

export const healthRoutes: RoutePlugin = async (app, { deps, metrics }) => {
  app.get(
    '/health',
    {
      config: { access: 'public' },
      schema: { tags: ['health'], summary: 'The process is up', response: { 200: Health } },
    },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/ready',
    {
      config: { access: 'public' },
      schema: {
        tags: ['health'],
        summary: 'Postgres and Temporal are reachable (503 otherwise)',
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (_request, reply) => {
      const [postgres, temporal] = await Promise.all([
        check(() => withTimeout(deps.pool.query('SELECT 1'), 2000, 'Postgres')),
        check(() => withTimeout(deps.temporal.workflowService.getSystemInfo({}), 2000, 'Temporal')),
      ]);
      const ready = postgres.ok && temporal.ok;
      return reply.code(ready ? 200 : 503).send({
        status: ready ? 'ready' : 'unavailable',
        checks: { postgres, temporal },
      });
    },
  );

  app.get(
    '/metrics',
    {
      config: { access: 'public' },
      schema: { tags: ['health'], summary: 'Prometheus metrics', hide: false },
    },
    async (_request, reply) => reply.type(metrics.contentType).send(await metrics.render()),
  );
};
