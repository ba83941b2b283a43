import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { HttpProblem } from './problem';

export const ROLES = ['reader', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];
/** What a route requires: `public` needs no key. */
export type Access = Role | 'public';

const RANK: Record<Role | 'anonymous', number> = { anonymous: 0, reader: 1, operator: 2, admin: 3 };

export interface Principal {
  /** Stable, non-secret name of the key (a hash prefix), for logs and idempotency scopes. */
  id: string;
  role: Role | 'anonymous';
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route. Default: GET/HEAD reader, anything else operator. */
    access?: Access;
  }
  interface FastifyRequest {
    principal: Principal;
  }
}

interface ApiKey {
  digest: Buffer;
  principal: Principal;
}

const digest = (key: string) => createHash('sha256').update(key).digest();

/** `API_KEYS="key:role,key2:role2"`; throws on a malformed entry or unknown role. */
export function parseApiKeys(raw: string | undefined): ApiKey[] {
  if (!raw?.trim()) return [];
  return raw
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry, index) => {
      const separator = entry.lastIndexOf(':');
      const key = entry.slice(0, separator);
      const role = entry.slice(separator + 1) as Role;
      if (separator <= 0 || !ROLES.includes(role)) {
        throw new Error(
          `API_KEYS entry ${index + 1} must be key:role with role one of ${ROLES.join(', ')}`,
        );
      }
      return {
        digest: digest(key),
        principal: { id: `key-${digest(key).toString('hex').slice(0, 12)}`, role },
      };
    });
}

function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers['x-api-key'];
  if (typeof header === 'string' && header) return header;
  const authorization = request.headers.authorization;
  const match = authorization ? /^Bearer\s+(\S+)$/i.exec(authorization) : null;
  return match?.[1];
}

const OPEN: Principal = { id: 'anonymous', role: 'admin' };
const ANONYMOUS: Principal = { id: 'anonymous', role: 'anonymous' };

/**
 * Who may call a route: its `config.access`, else public under /docs, else reader for GET/HEAD
 * and operator for anything else. The OpenAPI document (plugins/swagger.ts) reads the same.
 */
export function routeAccess(
  method: string,
  url: string | undefined,
  configured: Access | undefined,
): Access {
  if (configured) return configured;
  const path = url ?? '';
  if (path === '/docs' || path.startsWith('/docs/')) return 'public';
  return method === 'GET' || method === 'HEAD' ? 'reader' : 'operator';
}

const requiredAccess = (request: FastifyRequest): Access =>
  routeAccess(request.method, request.routeOptions.url, request.routeOptions.config?.access);

export interface AuthOptions {
  apiKeys: string | undefined;
  production: boolean;
}

/**
 * API keys with roles: reader (GET), operator (commands + GET), admin (everything).
 * `x-api-key: <key>` or `Authorization: Bearer <key>`. Without API_KEYS the API is open
 * (with a warning), which production refuses.
 */
export const authPlugin = fp<AuthOptions>(
  async (app: FastifyInstance, options) => {
    const keys = parseApiKeys(options.apiKeys);
    if (keys.length === 0) {
      if (options.production) {
        throw new Error('API_KEYS is required when NODE_ENV=production (format key:role,...)');
      }
      app.log.warn('API_KEYS is not set: the API is open to anyone who can reach it');
    }
    app.decorateRequest('principal', null as unknown as Principal);

    const check = (request: FastifyRequest): HttpProblem | undefined => {
      if (keys.length === 0) {
        request.principal = OPEN;
        return undefined;
      }
      const presented = presentedKey(request);
      // Compare digests (fixed length) in constant time against every key.
      const presentedDigest = presented ? digest(presented) : undefined;
      let found: ApiKey | undefined;
      if (presentedDigest) {
        for (const key of keys) if (timingSafeEqual(key.digest, presentedDigest)) found = key;
      }
      request.principal = found?.principal ?? ANONYMOUS;
      // Unknown routes answer 404 to everyone; only real ones need a key.
      if (request.is404) return undefined;
      const access = requiredAccess(request);
      if (access === 'public') return undefined;
      if (!found) {
        return new HttpProblem(401, 'Unauthorized', 'A valid API key is required', {
          code: 'UNAUTHORIZED',
          headers: { 'www-authenticate': 'Bearer realm="sagaflow"' },
        });
      }
      if (RANK[found.principal.role] < RANK[access]) {
        return new HttpProblem(
          403,
          'Forbidden',
          `This route needs the ${access} role; the key has ${found.principal.role}`,
          { code: 'FORBIDDEN' },
        );
      }
      return undefined;
    };
    // Callback style: no promise per request on the hot path.
    app.addHook('onRequest', (request, _reply, done) => done(check(request)));
  },
  { name: 'sagaflow-auth' },
);
