import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { placeOrderAndStartSaga } from '../../application/sagaStarter';
import { firstRepeatedSku, orderStreamId, type OrderPlaced } from '../../domain/order';
import { deterministicId } from '../../eventstore';
import { orderSagaId } from '../../sagas/sagaIds';
import { approveSignal, cancelUpdate, type OrderSagaStatus } from '../../../workflows/definitions';
import type { RoutePlugin } from '../context';
import { HttpProblem, notFound } from '../plugins/problem';
import { readAtLeast } from '../readYourWrites';
import { runningSaga, sagaReport } from '../sagas';
import { commandReply } from '../plugins/idempotency';
import { IdempotencyHeaders, problems } from '../schemas/common';
import {
  ApproveBody,
  CancelBody,
  ListOrdersQuery,
  OrderAccepted,
  OrderList,
  OrderParams,
  ShippingAddressView,
  OrderQuery,
  OrderView,
  PlaceOrderBody,
  SagaView,
  SignalAccepted,
} from '../schemas/orders';

const orderLinks = (orderId: string) => ({
  self: `/orders/${orderId}`,
  saga: `/orders/${orderId}/saga`,
  approve: `/orders/${orderId}/approve`,
  cancel: `/orders/${orderId}/cancel`,
});

/**
 * Stock is reserved once per (SKU, order): a SKU on two lines would be charged twice and
 * reserved once. JSON Schema cannot say "unique by sku", so it is checked here (and again
 * by the domain's PlaceOrder, for every other path).
 */
function refuseRepeatedSku(items: ReadonlyArray<{ sku: string }>): void {
  const repeated = firstRepeatedSku(items);
  if (!repeated) return;
  throw new HttpProblem(400, 'Bad Request', 'Invalid request body', {
    code: 'VALIDATION',
    errors: [
      {
        field: `items[${repeated.line}].sku`,
        in: 'body',
        message: `repeats the SKU of items[${repeated.firstLine}]: put the whole quantity on one line`,
      },
    ],
  });
}

export const orderRoutes: RoutePlugin = async (app, { deps, starter, reads, options }) => {
  app.post(
    '/orders',
    {
      schema: {
        tags: ['orders'],
        summary: 'Place an order and start its fulfilment saga',
        description:
          'With an Idempotency-Key the order id derives from the key: retries (even concurrent ones) converge on one order and one saga.',
        headers: IdempotencyHeaders,
        body: PlaceOrderBody,
        response: { 202: OrderAccepted, ...problems(409) },
      },
    },
    async (request, reply) => {
      // Like the schema's checks, before the idempotency key is looked at.
      refuseRepeatedSku(request.body.items);
      return app.idempotency.run(request, reply, async ({ scopedKey }) => {
        const body = request.body;
        const orderId = scopedKey ? deterministicId('order', scopedKey) : randomUUID();
        const started = await placeOrderAndStartSaga(starter, {
          orderId,
          customerId: body.customerId,
          paymentAccountId: body.paymentAccountId,
          items: body.items.map(({ sku, quantity, unitPrice }) => ({ sku, quantity, unitPrice })),
          shippingAddress: { ...body.shippingAddress },
          correlationId: request.id,
        });
        return commandReply(202, {
          orderId,
          sagaId: started.sagaId,
          status: 'PLACED',
          total: started.total,
          position: started.position,
          links: orderLinks(orderId),
        });
      });
    },
  );

  app.get(
    '/orders',
    {
      schema: {
        tags: ['orders'],
        summary: 'Orders, newest first, filtered by customer and status (cursor paging)',
        querystring: ListOrdersQuery,
        response: { 200: OrderList, ...problems() },
      },
    },
    async (request) => {
      const { customerId, status, limit, cursor } = request.query;
      return reads.read(({ pool }) =>
        deps.readModels.listOrderSummaries(pool, {
          ...(customerId !== undefined && { customerId }),
          ...(status !== undefined && { status }),
          limit,
          ...(cursor !== undefined && { cursor }),
        }),
      );
    },
  );

  app.get(
    '/orders/:id/shipping-address',
    {
      schema: {
        tags: ['orders'],
        summary: "The order's shipping address (personal data; reads as [erased] after erasure)",
        params: OrderParams,
        response: { 200: ShippingAddressView, ...problems(404) },
      },
    },
    async (request) => {
      const { id } = request.params;
      const [placed] = await reads.read(({ eventStore }) =>
        eventStore.readStream(orderStreamId(id), { toVersion: 1 }),
      );
      if (placed?.type !== 'OrderPlaced') throw notFound('Order', id);
      const { shippingAddress } = placed.data as OrderPlaced['data'];
      return {
        orderId: id,
        shippingAddress,
        erased: placed.metadata.personal_data === 'erased',
      };
    },
  );

  app.get(
    '/orders/:id',
    {
      schema: {
        tags: ['orders'],
        summary: 'One order (read model); minPosition waits for your own write',
        params: OrderParams,
        querystring: OrderQuery,
        response: { 200: OrderView, ...problems(404) },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const row = await readAtLeast(
        () => reads.read(({ pool }) => deps.readModels.getOrderSummary(pool, id)),
        request.query.minPosition,
        options.readWaitMs,
        reply,
      );
      if (!row) throw notFound('Order', id);
      return row;
    },
  );

  app.get(
    '/orders/:id/saga',
    {
      schema: {
        tags: ['orders'],
        summary: "The order saga's live status (or its final state once closed)",
        params: OrderParams,
        response: { 200: SagaView, ...problems(404) },
      },
    },
    async (request) => {
      const sagaId = orderSagaId(request.params.id);
      const report = await sagaReport<OrderSagaStatus>(deps.temporal, deps.config, sagaId);
      if (!report) throw notFound('Saga for order', request.params.id);
      return report;
    },
  );

  app.post(
    '/orders/:id/approve',
    {
      schema: {
        tags: ['orders'],
        summary: 'Approve an order waiting for approval (signal)',
        description:
          'The approval records the authenticated principal as approvedBy. A free-text approvedBy in the body is accepted for compatibility and ignored.',
        params: OrderParams,
        body: ApproveBody,
        response: { 202: SignalAccepted, ...problems(404, 409) },
      },
    },
    async (request, reply) => {
      const sagaId = orderSagaId(request.params.id);
      const handle = await runningSaga(deps.temporal, sagaId);
      // Who approved is the authenticated principal; the body's free-text approvedBy is not
      // passed on (Temporal histories and events carry ids only, see README "Sagas").
      await handle.signal(approveSignal, { approvedBy: request.principal.id });
      return reply.code(202).send({ orderId: request.params.id, sagaId, accepted: true });
    },
  );

  app.post(
    '/orders/:id/cancel',
    {
      schema: {
        tags: ['orders'],
        summary: 'Cancel an order (refused with 409 once the payment was taken)',
        description:
          'The order records the reason code (default CUSTOMER_REQUEST) and the authenticated principal. A free-text reason in the body is accepted for compatibility and ignored: it is never stored.',
        params: OrderParams,
        body: CancelBody,
        response: { 200: SignalAccepted, ...problems(404, 409) },
      },
    },
    async (request) => {
      const sagaId = orderSagaId(request.params.id);
      const handle = await runningSaga(deps.temporal, sagaId);
      try {
        await handle.executeUpdate(cancelUpdate, {
          // A reason code and the principal id; the body's free-text reason is not passed on.
          args: [
            {
              reasonCode: request.body?.reasonCode ?? 'CUSTOMER_REQUEST',
              requestedBy: request.principal.id,
            },
          ],
        });
      } catch (error) {
        if (error instanceof WorkflowUpdateFailedError) {
          const cause = error.cause;
          throw new HttpProblem(
            409,
            'Conflict',
            cause?.message ?? 'The saga refused the cancellation',
            {
              code: 'CANCEL_REFUSED',
            },
          );
        }
        throw error;
      }
      return { orderId: request.params.id, sagaId, accepted: true };
    },
  );
};
