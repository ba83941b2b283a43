import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { STATUS_CODES } from 'node:http';
import type { AccountRejectionCode } from '../../domain/account';
import { isRejection, ownEntry } from '../../domain/decider';
import type { InventoryRejectionCode } from '../../domain/inventory';
import type { OrderRejectionCode } from '../../domain/order';
import type { ShipmentRejectionCode } from '../../domain/shipment';
import type { TransferRejectionCode } from '../../domain/transfer';
import type { PLACE_ORDER_REJECTION_CODES } from '../../application/sagaStarter';
import { StreamArchivedError, WrongExpectedVersionError } from '../../eventstore';
import { InvalidCursorError } from '../../projections/queries';
import { isWorkflowNotFound } from '../../temporal/workflowLookup';
import { HttpProblem, PROBLEM_CONTENT_TYPE, problemType } from './problem';

interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  code?: string;
  correlationId?: string;
  errors?: Array<{ field: string; in?: string; message: string }>;
}

/** Every code a rejection reaching the API may carry: each aggregate's, and the starter's. */
export type RejectionCode =
  | AccountRejectionCode
  | InventoryRejectionCode
  | OrderRejectionCode
  | ShipmentRejectionCode
  | TransferRejectionCode
  | (typeof PLACE_ORDER_REJECTION_CODES)[number];

/**
 * The HTTP status of every rejection code, in one table: a code added to an aggregate's list
 * without a status here fails compilation. 400: the request itself is wrong; 404: what it
 * names does not exist; 409: it conflicts with the current state.
 */
const REJECTION_STATUS: Readonly<Record<RejectionCode, 400 | 404 | 409>> = {
  UNKNOWN_COMMAND: 400,
  // account
  ACCOUNT_ALREADY_EXISTS: 409,
  ACCOUNT_FROZEN: 409,
  ACCOUNT_NOT_FOUND: 404,
  BALANCE_LIMIT_EXCEEDED: 409,
  INSUFFICIENT_FUNDS: 409,
  INVALID_AMOUNT: 400,
  REFUND_AMOUNT_MISMATCH: 409,
  REFUND_DEBIT_LOOKUP_STALE: 409,
  // inventory
  INSUFFICIENT_STOCK: 409,
  INVALID_QUANTITY: 400,
  RESERVATION_COMMITTED: 409,
  RESERVATION_NOT_FOUND: 404,
  RESERVATION_RELEASED: 409,
  STOCK_LIMIT_EXCEEDED: 409,
  // order
  EMPTY_ORDER: 400,
  ILLEGAL_TRANSITION: 409,
  INVALID_REPEATED_SKU: 400,
  ORDER_ALREADY_PLACED_DIFFERENTLY: 409,
  // shipment
  DESTINATION_NOT_SERVED: 409,
  SHIPMENT_CANCELLED: 409,
  SHIPMENT_DISPATCHED: 409,
  SHIPMENT_NOT_FOUND: 404,
  // transfer
  SAME_ACCOUNT: 400,
};

/**
 * HTTP status for a rejection code. A code outside the table can only come from an untyped
 * origin; it is answered as a conflict with the state, as most refusals are.
 */
export function statusForRejection(code: string): number {
  return ownEntry(REJECTION_STATUS, code) ?? 409;
}

/** Seconds a client should wait before retrying a request the database could not serve. */
export const DATABASE_RETRY_AFTER_SECONDS = 2;

/** SQLSTATEs that mean "the database is busy or unreachable right now", not "a bug". */
const TIMEOUT_SQLSTATES = new Set([
  '57014', // query_canceled: statement_timeout (or a cancel request)
  '55P03', // lock_not_available: lock_timeout
]);
const UNAVAILABLE_SQLSTATES = new Set([
  '53300', // too_many_connections
  '57P03', // cannot_connect_now (the server is starting up or shutting down)
  '57P01', // admin_shutdown: pg_terminate_backend, a failover, a proxy's idle timeout
  '57P02', // crash_shutdown
]);
const UNAVAILABLE_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT']);
/** Errors node-postgres raises itself (query_timeout, the pool's connection timeout). */
const CLIENT_TIMEOUT_MESSAGES = new Set([
  'Query read timeout',
  'timeout exceeded when trying to connect',
  'Connection terminated due to connection timeout',
]);
/** node-postgres' words for a pooled connection the server closed under it. */
const CONNECTION_LOST_MESSAGES = new Set([
  'Connection terminated unexpectedly',
  'Connection terminated',
  'Client has encountered a connection error and is not queryable',
]);

/**
 * Whether an error (or one of its causes) says the database timed out or could not be
 * reached: the request may well succeed when retried, so it is a 503, not a 500.
 */
export function databaseUnavailability(error: unknown): 'timeout' | 'unavailable' | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as Error & { code?: unknown }).code;
    if (typeof code === 'string') {
      if (TIMEOUT_SQLSTATES.has(code)) return 'timeout';
      if (UNAVAILABLE_SQLSTATES.has(code) || UNAVAILABLE_ERRNOS.has(code)) return 'unavailable';
    }
    if (CLIENT_TIMEOUT_MESSAGES.has(current.message)) return 'timeout';
    if (CONNECTION_LOST_MESSAGES.has(current.message)) return 'unavailable';
    // A connection refused to every address comes as an AggregateError of ECONNREFUSEDs.
    if (current instanceof AggregateError && current.errors.length > 0) {
      const inner = current.errors.map(databaseUnavailability);
      if (inner.every((kind) => kind !== undefined)) return inner[0];
    }
    current = current.cause;
  }
  return undefined;
}

interface AjvError {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** `/items/0/quantity` → `items[0].quantity`. */
export function fieldName(instancePath: string, child?: unknown): string {
  const parts = instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (typeof child === 'string') parts.push(child);
  return parts.reduce(
    (path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : path ? `${path}.${part}` : part),
    '',
  );
}

export function validationErrors(
  errors: readonly AjvError[],
  where: string | undefined,
): Array<{ field: string; in?: string; message: string }> {
  const seen = new Set<string>();
  const out: Array<{ field: string; in?: string; message: string }> = [];
  for (const error of errors) {
    const child = error.params?.missingProperty ?? error.params?.additionalProperty;
    const field = fieldName(error.instancePath ?? '', child) || (where ?? 'request');
    let message = error.message ?? 'is invalid';
    if (error.keyword === 'additionalProperties') message = 'is not allowed';
    if (error.keyword === 'required') message = 'is required';
    const key = `${field}|${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ field, ...(where && { in: where }), message });
  }
  return out;
}

function toProblem(
  error: unknown,
  request: FastifyRequest,
): ProblemBody & { headers?: Record<string, string> } {
  const base = { instance: request.url.split('?')[0], correlationId: request.id };
  if (error instanceof HttpProblem) {
    return {
      type: problemType(error.extra.code ?? error.title),
      title: error.title,
      status: error.status,
      detail: error.message,
      ...(error.extra.code && { code: error.extra.code }),
      ...(error.extra.errors && { errors: error.extra.errors }),
      ...(error.extra.headers && { headers: error.extra.headers }),
      ...base,
    };
  }
  if (isRejection(error)) {
    const rejection = error;
    const status = statusForRejection(rejection.code);
    return {
      type: problemType(rejection.code),
      title: STATUS_CODES[status] ?? 'Error',
      status,
      detail: rejection.message,
      code: rejection.code,
      ...base,
    };
  }
  if (error instanceof WrongExpectedVersionError) {
    return {
      type: problemType('CONCURRENCY_CONFLICT'),
      title: 'Conflict',
      status: 409,
      detail: 'The resource was changed concurrently; retry the request',
      code: 'CONCURRENCY_CONFLICT',
      ...base,
    };
  }
  if (error instanceof StreamArchivedError) {
    return {
      type: problemType('STREAM_ARCHIVED'),
      title: 'Conflict',
      status: 409,
      detail: `${error.streamId} is archived (its aggregate finished): it takes no more changes`,
      code: 'STREAM_ARCHIVED',
      ...base,
    };
  }
  if (error instanceof InvalidCursorError) {
    return {
      type: problemType('INVALID_CURSOR'),
      title: 'Bad Request',
      status: 400,
      detail: 'The cursor is invalid or expired',
      code: 'INVALID_CURSOR',
      errors: [{ field: 'cursor', in: 'querystring', message: 'is invalid' }],
      ...base,
    };
  }
  if (isWorkflowNotFound(error)) {
    return {
      type: problemType('NOT_FOUND'),
      title: 'Not Found',
      status: 404,
      detail: 'No saga exists for this id',
      code: 'NOT_FOUND',
      ...base,
    };
  }
  const fastifyError = error as FastifyError | undefined;
  if (fastifyError?.validation) {
    return {
      type: problemType('VALIDATION'),
      title: 'Bad Request',
      status: 400,
      detail: `Invalid request ${fastifyError.validationContext ?? 'input'}`,
      code: 'VALIDATION',
      errors: validationErrors(fastifyError.validation, fastifyError.validationContext),
      ...base,
    };
  }
  const statusCode = fastifyError?.statusCode;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    // Fastify's own client errors: bad JSON, wrong content type, body too large, ...
    return {
      type: problemType(fastifyError?.code ?? 'CLIENT_ERROR'),
      title: STATUS_CODES[statusCode] ?? 'Client Error',
      status: statusCode,
      detail: fastifyError?.message,
      ...(fastifyError?.code && { code: fastifyError.code }),
      ...base,
    };
  }
  const unavailable = databaseUnavailability(error);
  if (unavailable) {
    // Generic on purpose: the Postgres message may quote SQL or name tables.
    return {
      type: problemType(unavailable === 'timeout' ? 'DATABASE_TIMEOUT' : 'DATABASE_UNAVAILABLE'),
      title: 'Service Unavailable',
      status: 503,
      detail:
        unavailable === 'timeout'
          ? 'The database did not answer in time (it is busy or a lock is held); retry the request shortly.'
          : 'The database cannot be reached right now; retry the request shortly.',
      code: unavailable === 'timeout' ? 'DATABASE_TIMEOUT' : 'DATABASE_UNAVAILABLE',
      headers: { 'retry-after': String(DATABASE_RETRY_AFTER_SECONDS) },
      ...base,
    };
  }
  const status =
    typeof statusCode === 'number' && statusCode >= 500 && statusCode < 600 ? statusCode : 500;
  return {
    type: problemType('INTERNAL'),
    title: STATUS_CODES[status] ?? 'Internal Server Error',
    status,
    detail:
      'The server could not complete the request. Quote the correlation id when reporting it.',
    ...base,
  };
}

export function sendProblem(
  reply: FastifyReply,
  problem: ProblemBody & { headers?: Record<string, string> },
) {
  const { headers, ...body } = problem;
  if (headers) void reply.headers(headers);
  return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(body);
}

/** A route template (`/orders/:id/saga`, `/docs/static/*`) as a RegExp over request paths. */
export function templatePattern(url: string): RegExp {
  const source = url.replace(/:[A-Za-z0-9_]+|\*|[.+?^${}()|[\]\\]/g, (token) =>
    token === '*' ? '.*' : token.startsWith(':') ? '[^/]+' : `\\${token}`,
  );
  return new RegExp(`^${source}$`);
}

/**
 * Every error leaves as application/problem+json; 5xx never reveal their cause. A path no
 * route serves is a 404; a path served for other methods only is a 405 with `Allow`.
 */
export const errorsPlugin = fp(
  async (app: FastifyInstance) => {
    const routes: Array<{ pattern: RegExp; methods: string[] }> = [];
    app.addHook('onRoute', (route) => {
      routes.push({ pattern: templatePattern(route.url), methods: [route.method].flat() });
    });
    const allowedMethods = (path: string): string[] => [
      ...new Set(routes.filter((route) => route.pattern.test(path)).flatMap((r) => r.methods)),
    ];

    const unrouted = (request: FastifyRequest, reply: FastifyReply) => {
      const path = request.url.split('?')[0] ?? request.url;
      const base = { instance: path, correlationId: request.id };
      const allowed = allowedMethods(path);
      if (allowed.length > 0 && !allowed.includes(request.method)) {
        const allow = allowed.sort().join(', ');
        return sendProblem(reply, {
          type: problemType('METHOD_NOT_ALLOWED'),
          title: 'Method Not Allowed',
          status: 405,
          detail: `${request.method} is not allowed on ${path}; it allows ${allow}`,
          code: 'METHOD_NOT_ALLOWED',
          headers: { allow },
          ...base,
        });
      }
      return sendProblem(reply, {
        type: problemType('NOT_FOUND'),
        title: 'Not Found',
        status: 404,
        detail: `No route ${request.method} ${path}`,
        ...base,
      });
    };

    app.setErrorHandler((error, request, reply) => {
      // The not-found route parses bodies too (a QUERY without Content-Type, a text/plain
      // POST): with no route to serve it, the answer is still 404 or 405.
      if (request.is404) return unrouted(request, reply);
      const problem = toProblem(error, request);
      if (problem.status >= 500) request.log.error({ err: error }, 'request failed');
      else
        request.log.info(
          { status: problem.status, code: problem.code },
          problem.detail ?? problem.title,
        );
      return sendProblem(reply, problem);
    });
    app.setNotFoundHandler(unrouted);
  },
  { name: 'sagaflow-errors' },
);
