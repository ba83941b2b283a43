import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/** OpenAPI 3 from the route schemas at /docs/json, Swagger UI at /docs. */
export const swaggerPlugin = fp<{ ui: boolean }>(
  async (app: FastifyInstance, { ui }) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'Sagaflow API',
          description:
            'Saga orchestration on Temporal over a Postgres event store. Errors are application/problem+json (RFC 9457).',
          version: '0.1.0',
        },
        components: {
          securitySchemes: {
            apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
            bearer: { type: 'http', scheme: 'bearer' },
          },
        },
        security: [{ apiKey: [] }, { bearer: [] }],
        tags: [
          { name: 'accounts' },
          { name: 'inventory' },
          { name: 'orders' },
          { name: 'transfers' },
          { name: 'events' },
          { name: 'admin' },
          { name: 'health' },
        ],
      },
    });
    if (ui) {
      // Loaded only when served: its static-file stack is ESM-only (see AppOptions.swaggerUi).
      const { default: swaggerUi } = await import('@fastify/swagger-ui');
      await app.register(swaggerUi, { routePrefix: '/docs' });
    } else {
      // Without the UI plugin the document is still served where the README says.
      app.get('/docs/json', { schema: { hide: true } }, () => app.swagger());
    }
  },
  { name: 'sagaflow-swagger' },
);
