import type { FastifyRequest } from 'fastify';
import type { RoutePlugin } from '../context';
import { Health, Readiness } from '../schemas/admin';

const withTimeout = <T>(promise: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms).unref(),
    ),
  ]);

interface CheckResult {
  ok: boolean;
  /** Why it failed, in words that reveal nothing about the deployment. */
  error?: string;
  /** The raw error (host names, database names, ...): for an authenticated admin only. */
  detail?: string;
}

/** What a failing dependency tells the public: that it failed, not how. */
const PUBLIC_REASON = 'unavailable';

async function check(run: () => Promise<unknown>): Promise<CheckResult> {
  try {
    await run();
    return { ok: true };
  } catch (error) {
    return {
      ok: false,
      error: PUBLIC_REASON,
      detail: error instanceof Error ? error.message : String(error),
    };
  }
}

/** An admin who presented a key (an API without keys serves everyone as admin: not them). */
const authenticatedAdmin = (request: FastifyRequest) =>
  request.principal.role === 'admin' && request.principal.id !== 'anonymous';

export const healthRoutes: RoutePlugin = async (app, { deps, metrics, reads }) => {
  app.get(
    '/health',
    {
      config: { access: 'public' },
      schema: { tags: ['health'], summary: 'The process is up', response: { 200: Health } },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/ready',
    {
      config: { access: 'public' },
      schema: {
        tags: ['health'],
        summary: 'Postgres and Temporal are reachable (503 otherwise)',
        description:
          'A failing check says only `unavailable`; the cause is logged, and shown as `detail` to a request with an admin API key. ' +
          'With a read replica (DATABASE_READ_URL) a `replica` check is added: when it fails the status is `degraded` but still 200, since reads fall back to the primary (failing readiness would take every API instance out at once).',
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (request, reply) => {
      const replica = reads.replica;
      const [postgres, temporal, replicaCheck] = await Promise.all([
        check(() => withTimeout(deps.pool.query('SELECT 1'), 2000, 'Postgres')),
        check(() => withTimeout(deps.temporal.workflowService.getSystemInfo({}), 2000, 'Temporal')),
        replica &&
          check(async () => {
            const status = await withTimeout(replica.check(), 2000, 'Read replica');
            if (!status.ok) throw new Error(status.error ?? 'read replica unavailable');
          }),
      ]);
      const checks = { postgres, temporal, ...(replicaCheck && { replica: replicaCheck }) };
      const ready = checks.postgres.ok && checks.temporal.ok;
      const degraded = ready && replicaCheck?.ok === false;
      if (!ready || degraded) request.log.warn({ checks }, ready ? 'degraded' : 'not ready');
      const showDetail = authenticatedAdmin(request);
      const shown = Object.fromEntries(
        Object.entries(checks).map(([name, { detail, ...result }]) => [
          name,
          showDetail && detail !== undefined ? { ...result, detail } : result,
        ]),
      );
      return reply.code(ready ? 200 : 503).send({
        status: ready ? (degraded ? 'degraded' : 'ready') : 'unavailable',
        checks: shown,
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
