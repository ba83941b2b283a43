import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export const CORRELATION_HEADER = 'x-correlation-id';
const SAFE = /^[A-Za-z0-9._:@-]{1,128}$/;

/** Fastify's genReqId: the caller's x-correlation-id when it is sane, else a new UUID. */
export function correlationIdOf(raw: IncomingMessage): string {
  const header = raw.headers[CORRELATION_HEADER];
  return typeof header === 'string' && SAFE.test(header) ? header : randomUUID();
}

/** The request id is the correlation id: logged with every line, returned, passed to commands. */
export const correlationPlugin = fp(
  async (app: FastifyInstance) => {
    app.addHook('onRequest', (request, reply, done) => {
      void reply.header(CORRELATION_HEADER, request.id);
      done();
    });
  },
  { name: 'sagaflow-correlation' },
);
