import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Metrics } from '../../observability/metrics';

/** Counts and times every request by route template (not raw URL: bounded label values). */
export const httpMetricsPlugin = fp<{ metrics: Metrics }>(
  async (app: FastifyInstance, { metrics }) => {
    app.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url ?? (request.is404 ? 'not_found' : 'unknown');
      metrics.recordHttp(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
      done();
    });
  },
  { name: 'sagaflow-http-metrics' },
);
