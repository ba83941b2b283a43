import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, {
  LogController,
  type FastifyInstance,
  type FastifyReply,
  type FastifyServerOptions,
} from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { DirectCommands } from '../application/directCommands';
import { primaryReadSide } from '../infra/readReplica';
import { Metrics } from '../observability/metrics';
import type { RouteContext } from './context';
import type { AppDeps, AppOptions } from './deps';
import { authPlugin, parseApiKeys } from './plugins/auth';
import { correlationIdOf, correlationPlugin } from './plugins/correlation';
import { errorsPlugin } from './plugins/errors';
import { PROBLEM_CONTENT_TYPE, problemType } from './plugins/problem';
import { idempotencyPlugin } from './plugins/idempotency';
import { httpMetricsPlugin } from './plugins/metrics';
import { swaggerPlugin } from './plugins/swagger';
import { accountRoutes } from './routes/accounts';
import { adminRoutes } from './routes/admin';
import { eventRoutes } from './routes/events';
import { healthRoutes } from './routes/health';
import { inventoryRoutes } from './routes/inventory';
import { orderRoutes } from './routes/orders';
import { transferRoutes } from './routes/transfers';
import { terminalTransport } from '../logger';
import { integrationRoutes } from '../integration/http';

export type { AppDeps, AppOptions, ReadModels, ReadModelRow } from './deps';

/** The router's limit on one path parameter (Fastify's default is 100). */
export const MAX_PARAM_LENGTH = 512;

/**
 * Bodies are validated strictly (no type coercion: "100" is not an amount, unknown fields
 * are refused); path, query and headers arrive as strings and are coerced.
 */
function validators() {
  const make = (coerce: boolean) => {
    const ajv = new Ajv({
      allErrors: true,
      coerceTypes: coerce ? 'array' : false,
      removeAdditional: false,
      useDefaults: true,
      strict: false,
    });
    addFormats(ajv);
    return ajv;
  };
  const body = make(false);
  const other = make(true);
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) =>
    (httpPart === 'body' ? body : other).compile(schema);
}

/**
 * Outside production, a missing IDEMPOTENCY_SECRET falls back to this public one: stable
 * across restarts and processes (fingerprints must match wherever a retry lands), but no
 * protection, which is why production refuses to start without a secret of its own.
 */
const DEVELOPMENT_IDEMPOTENCY_SECRET = 'sagaflow-development-idempotency-secret-not-secret';

/**
 * The HTTP API as a tree of plugins: shared plumbing (errors, correlation, auth,
 * idempotency, metrics, OpenAPI) first, then one plugin per area. Tests use `app.inject`;
 * `server.ts` listens.
 */
export function buildApp(deps: AppDeps, options: AppOptions = {}): FastifyInstance {
  const production = deps.config.NODE_ENV === 'production';
  if (production && !deps.config.API_KEYS?.trim()) {
    throw new Error(
      'Refusing to start: API_KEYS must be set when NODE_ENV=production (key:role,...)',
    );
  }
  if (production && !deps.config.IDEMPOTENCY_SECRET) {
    throw new Error('Refusing to start: IDEMPOTENCY_SECRET must be set when NODE_ENV=production');
  }
  const transport = terminalTransport();
  const logger: FastifyServerOptions['logger'] =
    options.logger === false
      ? false
      : {
          level: deps.config.LOG_LEVEL,
          redact: ['req.headers.authorization', 'req.headers["x-api-key"]'],
          ...(transport && { transport }),
          ...(typeof options.logger === 'object' ? options.logger : {}),
        };
  const app = Fastify({
    logger,
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    genReqId: correlationIdOf,
    logController: new LogController({ requestIdLogLabel: 'correlationId' }),
    requestIdHeader: false,
    return503OnClosing: true,
    ajv: { customOptions: { removeAdditional: false } },
    // Above every path parameter's schema maxLength (the longest is a stream id, 300): a
    // parameter within it reaches the route, whose validation names it in a 400.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Errors the router raises before any route runs (a malformed %-escape, a path parameter
    // over maxParamLength) bypass the error handler: answer them as problems too, with the
    // 400 every route documents (the router's own answer to a long parameter, 414, is not).
    frameworkErrors: (error, request, rawReply) => {
      const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
      const reply = rawReply as unknown as FastifyReply;
      void reply
        .code(400)
        .type(PROBLEM_CONTENT_TYPE)
        .header('x-correlation-id', request.id)
        .send({
          type: problemType(tooLong ? 'VALIDATION' : error.code),
          title: 'Bad Request',
          status: 400,
          detail: tooLong
            ? `A path parameter is longer than ${MAX_PARAM_LENGTH} characters`
            : 'The URL is malformed',
          instance: request.url.split('?')[0],
          code: tooLong ? 'VALIDATION' : error.code,
          correlationId: request.id,
          ...(tooLong && {
            errors: [
              {
                field: 'path',
                in: 'params',
                message: `must NOT have a parameter longer than ${MAX_PARAM_LENGTH} characters`,
              },
            ],
          }),
        });
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  if (!deps.config.IDEMPOTENCY_SECRET) {
    app.log.warn(
      'IDEMPOTENCY_SECRET is not set: request fingerprints use a public development key',
    );
  }
  app.setValidatorCompiler(validators());
  // JSON only: any other body is 415 (Fastify would otherwise parse text/plain as a string).
  app.removeContentTypeParser('text/plain');

  const metrics = deps.metrics ?? new Metrics({ defaultMetrics: false });
  const context: RouteContext = {
    deps,
    direct: new DirectCommands(deps.commands, deps.now),
    starter: {
      client: deps.temporal,
      commands: deps.commands,
      config: deps.config,
      ...(deps.now && { now: deps.now }),
    },
    metrics,
    reads: deps.reads ?? primaryReadSide({ pool: deps.pool, eventStore: deps.eventStore }),
    options: {
      readWaitMs: options.readWaitMs ?? 2000,
      ssePollMs: options.ssePollMs ?? 250,
      sseHeartbeatMs: options.sseHeartbeatMs ?? 15_000,
    },
  };

  void app.register(errorsPlugin);
  void app.register(correlationPlugin);
  void app.register(httpMetricsPlugin, { metrics });
  void app.register(authPlugin, { apiKeys: deps.config.API_KEYS, production });
  void app.register(idempotencyPlugin, {
    pool: deps.pool,
    secret: deps.config.IDEMPOTENCY_SECRET ?? DEVELOPMENT_IDEMPOTENCY_SECRET,
    retentionDays: deps.config.IDEMPOTENCY_RETENTION_DAYS,
  });
  void app.register(swaggerPlugin, {
    ui: options.swaggerUi ?? true,
    secured: parseApiKeys(deps.config.API_KEYS).length > 0,
  });

  void app.register(healthRoutes, context);
  void app.register(accountRoutes, context);
  void app.register(inventoryRoutes, context);
  void app.register(orderRoutes, context);
  void app.register(transferRoutes, context);
  void app.register(eventRoutes, context);
  void app.register(adminRoutes, context);
  void app.register(integrationRoutes, context);
  return app;
}
