import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Pool } from 'pg';
import { HttpProblem } from './problem';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const REPLAYED_HEADER = 'idempotent-replayed';

export interface CommandReply {
  statusCode: number;
  body: unknown;
}

export interface IdempotentCall {
  /** The key, when the client sent one (derive business ids from `scopedKey`). */
  key: string | undefined;
  /** scope + key: the same for every retry of this request, unique across scopes. */
  scopedKey: string | undefined;
}

export interface Idempotency {
  /**
   * Runs `execute` at most once per (scope, key, request) as far as the client can tell:
   * a stored answer is replayed; a different request under the same key is a 409. A
   * duplicate that arrives while the first is still running executes too: `execute` must
   * itself be idempotent for a given key (deterministic ids), so both converge.
   */
  run(
    request: FastifyRequest,
    reply: FastifyReply,
    execute: (call: IdempotentCall) => Promise<CommandReply>,
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

export const idempotencyPlugin = fp<{ pool: Pool }>(
  async (app: FastifyInstance, { pool }) => {
    const run: Idempotency['run'] = async (request, reply, execute) => {
      const header = request.headers[IDEMPOTENCY_HEADER];
      const key = typeof header === 'string' && header.length > 0 ? header : undefined;
      if (key === undefined) {
        const result = await execute({ key: undefined, scopedKey: undefined });
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
      const hash = createHash('sha256')
        .update(canonicalJson({ params: request.params, body: request.body ?? null }))
        .digest('hex');

      const inserted = await pool.query(
        `INSERT INTO api_idempotency_keys (scope, key, request_hash) VALUES ($1, $2, $3)
         ON CONFLICT (scope, key) DO NOTHING`,
        [scope, key, hash],
      );
      const owner = inserted.rowCount === 1;
      if (!owner) {
        const existing = await pool.query<{
          request_hash: string;
          status_code: number | null;
          response: unknown;
        }>(
          'SELECT request_hash, status_code, response FROM api_idempotency_keys WHERE scope = $1 AND key = $2',
          [scope, key],
        );
        const row = existing.rows[0];
        if (row && row.request_hash !== hash) {
          throw new HttpProblem(
            409,
            'Conflict',
            'This Idempotency-Key was already used with a different request',
            {
              code: 'IDEMPOTENCY_KEY_REUSED',
              errors: [
                {
                  field: IDEMPOTENCY_HEADER,
                  in: 'headers',
                  message: 'was used for a different request',
                },
              ],
            },
          );
        }
        if (row && row.status_code !== null) {
          return reply.code(row.status_code).header(REPLAYED_HEADER, 'true').send(row.response);
        }
        // Still in flight (or its owner crashed): run it again; ids derived from the key converge.
      }

      const scopedKey = `${scope} ${key}`;
      let result: CommandReply;
      try {
        result = await execute({ key, scopedKey });
      } catch (error) {
        // No answer to keep: a retry runs again (and, being deterministic, ends the same way).
        if (owner) {
          await pool
            .query(
              'DELETE FROM api_idempotency_keys WHERE scope = $1 AND key = $2 AND status_code IS NULL',
              [scope, key],
            )
            .catch(() => undefined);
        }
        throw error;
      }
      await pool.query(
        `UPDATE api_idempotency_keys SET status_code = $3, response = $4, completed_at = now()
          WHERE scope = $1 AND key = $2 AND status_code IS NULL`,
        [scope, key, result.statusCode, JSON.stringify(result.body)],
      );
      return reply.code(result.statusCode).send(result.body);
    };
    app.decorate('idempotency', { run });
  },
  { name: 'sagaflow-idempotency' },
);
