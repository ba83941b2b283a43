import { createHash, createHmac } from 'node:crypto';
import type {
  ContextConfigDefault,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
  FastifyTypeProvider,
  RouteGenericInterface,
} from 'fastify';
import fp from 'fastify-plugin';
import type { Pool } from 'pg';
import { HttpProblem } from './problem';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const REPLAYED_HEADER = 'idempotent-replayed';

/**
 * What a command answers: a success status its route's schema declares, with a body of that
 * status' schema. Derived from the route's reply, so the compiler checks every answer (the
 * stored one is replayed as it is, so it must be right the first time).
 */
export type CommandReply<Reply> = StoredReply & SchemaReply<Reply>;

/** Any answer, as the store keeps it. */
interface StoredReply {
  statusCode: number;
  body: unknown;
}

type SchemaReply<Reply> =
  Reply extends FastifyReply<
    RouteGenericInterface,
    RawServerDefault,
    RawRequestDefaultExpression,
    RawReplyDefaultExpression,
    ContextConfigDefault,
    infer Schema,
    infer Provider extends FastifyTypeProvider
  >
    ? Schema extends { response: infer Responses }
      ? {
          [Code in keyof Responses & SuccessCode]: {
            statusCode: Code;
            body: (Provider & { schema: Responses[Code] })['serializer'];
          };
        }[keyof Responses & SuccessCode]
      : never
    : never;

type SuccessCode = 200 | 201 | 202;

/** A command's answer, its status and strings kept literal for the check against the schema. */
export const commandReply = <const Code extends SuccessCode, const Body>(
  statusCode: Code,
  body: Body,
) => ({ statusCode, body });

export interface IdempotentCall {
  /** The key, when the client sent one (derive business ids from `scopedKey`). */
  key: string | undefined;
  /** scope + key: the same for every retry of this request, unique across scopes. */
  scopedKey: string | undefined;
}

export interface Idempotency {
  /**
   * Runs `execute` at most once per (scope, key, request) as far as the client can tell:
   * a stored answer is replayed; a different request under the same key is a 409, whatever
   * became of the first (still running, failed, its process gone, or done). A retry of the
   * same request whose first attempt has no stored answer (still running, failed, crashed)
   * executes again: `execute` must itself be idempotent for a given key (deterministic
   * ids), so every attempt converges on the same outcome.
   */
  run<Reply extends FastifyReply>(
    request: FastifyRequest,
    reply: Reply,
    execute: (call: IdempotentCall) => Promise<CommandReply<Reply>>,
  ): Promise<FastifyReply>;
}

declare module 'fastify' {
  interface FastifyInstance {
    idempotency: Idempotency;
  }
}

/** JSON with sorted keys, so property order does not change the hash. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** Fingerprints of requests made before they were keyed: a bare SHA-256 in hex. */
const LEGACY_FINGERPRINT = /^[0-9a-f]{64}$/;
const FINGERPRINT_PREFIX = 'hmac-sha256:';

/**
 * What identifies a request under its key. Bodies carry personal data (a shipping address),
 * and the fingerprint outlives its erasure, so it is keyed with a secret of the deployment:
 * without the secret nobody can test a guessed body against it.
 */
export function requestFingerprint(secret: string, canonicalRequest: string): string {
  return FINGERPRINT_PREFIX + createHmac('sha256', secret).update(canonicalRequest).digest('hex');
}

function sameRequest(stored: string, secret: string, canonicalRequest: string): boolean {
  if (LEGACY_FINGERPRINT.test(stored)) {
    // Rows written before fingerprints were keyed: still answer their retries correctly.
    return stored === createHash('sha256').update(canonicalRequest).digest('hex');
  }
  return stored === requestFingerprint(secret, canonicalRequest);
}

/** What a key's fingerprint becomes once its retention is over: it matches no request. */
export const FORGOTTEN_FINGERPRINT = 'forgotten';

function keyReused(stored: string): HttpProblem {
  const forgotten = stored === FORGOTTEN_FINGERPRINT;
  return new HttpProblem(
    409,
    'Conflict',
    forgotten
      ? 'This Idempotency-Key was used before its request was forgotten; use a new key'
      : 'This Idempotency-Key was already used with a different request',
    {
      code: 'IDEMPOTENCY_KEY_REUSED',
      errors: [
        {
          field: IDEMPOTENCY_HEADER,
          in: 'headers',
          message: forgotten ? 'was used long ago' : 'was used for a different request',
        },
      ],
    },
  );
}

/**
 * Ends the retention of old keys: their fingerprints and stored answers are dropped, so
 * nothing derived from a request body (an address) outlives the window. The key itself stays
 * reserved, and any request with it is a 409: ids derive from the key, so a new request
 * under a forgotten key would land on the old one's order. Returns how many were forgotten.
 */
export async function forgetOldRequests(pool: Pool, retentionDays: number): Promise<number> {
  const result = await pool.query(
    `UPDATE api_idempotency_keys
        SET request_hash = $2, status_code = NULL, response = NULL
      WHERE created_at < now() - make_interval(days => $1) AND request_hash <> $2`,
    [retentionDays, FORGOTTEN_FINGERPRINT],
  );
  return result.rowCount ?? 0;
}

export interface IdempotencyOptions {
  pool: Pool;
  /** Keys the request fingerprints (config IDEMPOTENCY_SECRET). */
  secret: string;
  /** Days a key's fingerprint and answer are kept (config IDEMPOTENCY_RETENTION_DAYS). */
  retentionDays: number;
}

/** How often each API process ends the retention of old keys. */
const FORGET_EVERY_MS = 60 * 60 * 1000;

export const idempotencyPlugin = fp<IdempotencyOptions>(
  async (app: FastifyInstance, { pool, secret, retentionDays }) => {
    const forget = () =>
      forgetOldRequests(pool, retentionDays).catch((error: unknown) =>
        app.log.warn({ err: error }, 'could not forget old idempotency keys'),
      );
    let timer: NodeJS.Timeout | undefined;
    app.addHook('onReady', async () => {
      void forget();
      timer = setInterval(() => void forget(), FORGET_EVERY_MS).unref();
    });
    app.addHook('onClose', async () => clearInterval(timer));

    const run: Idempotency['run'] = async (request, reply, execute) => {
      const header = request.headers[IDEMPOTENCY_HEADER];
      const key = typeof header === 'string' && header.length > 0 ? header : undefined;
      if (key === undefined) {
        const result: StoredReply = await execute({ key: undefined, scopedKey: undefined });
        return reply.code(result.statusCode).send(result.body);
      }
      if (key.length > 200) {
        throw new HttpProblem(400, 'Bad Request', 'Idempotency-Key is too long', {
          code: 'VALIDATION',
          errors: [
            { field: IDEMPOTENCY_HEADER, in: 'headers', message: 'must be at most 200 characters' },
          ],
        });
      }
      const scope = `${request.principal.id} ${request.method} ${request.routeOptions.url ?? ''}`;
      const canonicalRequest = canonicalJson({
        params: request.params,
        body: request.body ?? null,
      });

      // The first attempt claims the key with its fingerprint, and the row stays whatever
      // happens next: a failed attempt must still refuse a different request under its key.
      const inserted = await pool.query(
        `INSERT INTO api_idempotency_keys (scope, key, request_hash) VALUES ($1, $2, $3)
         ON CONFLICT (scope, key) DO NOTHING`,
        [scope, key, requestFingerprint(secret, canonicalRequest)],
      );
      if (inserted.rowCount !== 1) {
        const existing = await pool.query<{
          request_hash: string;
          status_code: number | null;
          response: unknown;
        }>(
          'SELECT request_hash, status_code, response FROM api_idempotency_keys WHERE scope = $1 AND key = $2',
          [scope, key],
        );
        const row = existing.rows[0];
        if (row && !sameRequest(row.request_hash, secret, canonicalRequest))
          throw keyReused(row.request_hash);
        if (row && row.status_code !== null) {
          return reply.code(row.status_code).header(REPLAYED_HEADER, 'true').send(row.response);
        }
        // No answer yet (still in flight, failed, or its owner crashed): run it again; ids
        // derived from the key converge on what the first attempt did.
      }

      // A failure propagates and leaves the row unanswered, so a retry runs again.
      const result: StoredReply = await execute({ key, scopedKey: `${scope} ${key}` });
      const stored = await pool.query(
        `UPDATE api_idempotency_keys SET status_code = $3, response = $4, completed_at = now()
          WHERE scope = $1 AND key = $2 AND status_code IS NULL`,
        [scope, key, result.statusCode, JSON.stringify(result.body)],
      );
      if (stored.rowCount === 1) return reply.code(result.statusCode).send(result.body);
      // A concurrent attempt answered first (e.g. 201 where this one saw 200 "already
      // done"): every attempt under the key gives the client that one answer.
      const answer = await pool.query<{ status_code: number; response: unknown }>(
        'SELECT status_code, response FROM api_idempotency_keys WHERE scope = $1 AND key = $2',
        [scope, key],
      );
      const first = answer.rows[0];
      if (!first) return reply.code(result.statusCode).send(result.body);
      return reply.code(first.status_code).header(REPLAYED_HEADER, 'true').send(first.response);
    };
    app.decorate('idempotency', { run });
  },
  { name: 'sagaflow-idempotency' },
);
