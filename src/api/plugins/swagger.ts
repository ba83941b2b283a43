import swagger from '@fastify/swagger';
import type { FastifyInstance, FastifySchema, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { problems } from '../schemas/common';
import { routeAccess } from './auth';

export interface SwaggerOptions {
  ui: boolean;
  /** API_KEYS are configured: protected routes are documented under the API-key schemes. */
  secured: boolean;
}

/**
 * What the document says about a route's security, from the same rule the auth plugin
 * enforces (`routeAccess`): open routes (`/health`, `/ready`, `/metrics`, `/docs`, and every
 * route while no API_KEYS are set) carry `security: []`; protected ones document the 401 and
 * 403 the auth hook answers.
 */
export function documentSecurity(
  route: Pick<RouteOptions, 'method' | 'url' | 'config'>,
  schema: FastifySchema | undefined,
  secured: boolean,
): FastifySchema {
  const method = Array.isArray(route.method) ? String(route.method[0]) : String(route.method);
  const access = routeAccess(method, route.url, route.config?.access);
  if (!secured || access === 'public') return { ...schema, security: [] };
  const { 401: unauthorized, 403: forbidden } = problems();
  const response = schema?.response as Record<string, unknown> | undefined;
  return { ...schema, response: { 401: unauthorized, 403: forbidden, ...response } };
}

/**
 * A query or header schema as a client sees it: a property with a default may be left out
 * (validation fills it in), so the document does not list it as required.
 */
export function withOptionalDefaults<T>(part: T): T {
  const object = part as { required?: unknown; properties?: Record<string, { default?: unknown }> };
  if (!Array.isArray(object?.required) || !object.properties) return part;
  const properties = object.properties;
  const required = object.required.filter(
    (name) => typeof name !== 'string' || properties[name]?.default === undefined,
  );
  return { ...part, required };
}

/** What the document says about a route: its security, and its optional parameters. */
function documentRoute(
  route: Pick<RouteOptions, 'method' | 'url' | 'config'>,
  schema: FastifySchema | undefined,
  secured: boolean,
): FastifySchema {
  const documented = documentSecurity(route, schema, secured);
  return {
    ...documented,
    ...(documented.querystring !== undefined && {
      querystring: withOptionalDefaults(documented.querystring),
    }),
    ...(documented.headers !== undefined && { headers: withOptionalDefaults(documented.headers) }),
  };
}

/** OpenAPI 3 from the route schemas at /docs/json, Swagger UI at /docs. */
export const swaggerPlugin = fp<SwaggerOptions>(
  async (app: FastifyInstance, { ui, secured }) => {
    await app.register(swagger, {
      transform: ({ schema, url, route }) => ({
        schema: documentRoute(route, schema, secured),
        url,
      }),
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
        // Without API_KEYS the API is open, and the document says so (see documentSecurity).
        ...(secured && { security: [{ apiKey: [] }, { bearer: [] }] }),
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
