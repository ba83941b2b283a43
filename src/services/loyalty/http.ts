import Fastify, { type FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Pool } from 'pg';
import { Type } from '../../api/schemas/typebox';
import { customerPoints } from './store';

const Problem = Type.Object({
  type: Type.String(),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.String(),
});

const CustomerPointsSchema = Type.Object({
  customerId: Type.String(),
  points: Type.Integer({ minimum: 0 }),
  orders: Type.Array(
    Type.Object({ orderId: Type.String(), points: Type.Integer(), refunded: Type.Boolean() }),
  ),
});

/** The loyalty service's HTTP API: points per customer (read model), and health. */
export function buildLoyaltyApp(deps: { pool: Pool; logger?: boolean }): FastifyInstance {
  const app = Fastify({ logger: deps.logger ?? false }).withTypeProvider<TypeBoxTypeProvider>();

  // Bad input is a 400 problem+json that names the field, never a 500.
  app.setErrorHandler(
    (error: { validation?: unknown; statusCode?: number; message: string }, _request, reply) => {
      const status = error.validation ? 400 : (error.statusCode ?? 500);
      void reply
        .code(status)
        .type('application/problem+json')
        .send({
          type: status === 400 ? 'urn:loyalty:invalid-request' : 'about:blank',
          title: status === 400 ? 'Invalid request' : 'Internal error',
          status,
          detail: status === 400 ? error.message : 'the loyalty service failed to answer',
        });
    },
  );

  app.get(
    '/customers/:customerId/points',
    {
      schema: {
        params: Type.Object({
          customerId: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$' }),
        }),
        response: { 200: CustomerPointsSchema, 400: Problem },
      },
    },
    (request) => customerPoints(deps.pool, request.params.customerId),
  );

  app.get(
    '/health',
    { schema: { response: { 200: Type.Object({ status: Type.Literal('ok') }) } } },
    async () => {
      await deps.pool.query('SELECT 1');
      return { status: 'ok' as const };
    },
  );
  return app;
}
