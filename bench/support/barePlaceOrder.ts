/**
 * The baseline of `http_post_order`: a bare Fastify route that does what POST /orders does
 * to the outside world, and nothing else. It appends the same OrderPlaced event (same event
 * store, same expected version, same event id and metadata columns) and starts the same
 * workflow (type, task queue, id, input shape) with the plain Temporal client. What it
 * leaves out is what the comparison measures: auth, correlation, metrics, the idempotency
 * plugin, schema validation, the command handler (load, decide, aggregate cache, inline
 * projections) and the saga starter's search attributes, summary and id policies.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../src/config';
import {
  ORDER_CURRENCY,
  ORDER_EVENT_SCHEMA_VERSIONS,
  ORDER_STREAM_TYPE,
  orderStreamId,
  type OrderItem,
  type OrderPlaced,
  type ShippingAddress,
} from '../../src/domain/order';
import { eventIdFor, type EventStore } from '../../src/eventstore';
import { orderSagaId } from '../../src/sagas/sagaIds';
import { sagaSettingsFrom } from '../../src/sagas/sagaSettings';
import type { OrderFulfillmentInput } from '../../workflows/definitions';

/** The request body the bench sends (trusted: the bare route validates nothing). */
interface PlaceOrderBody {
  customerId: string;
  paymentAccountId: string;
  items: OrderItem[];
  shippingAddress: ShippingAddress;
}

export function registerBarePlaceOrder(
  app: FastifyInstance,
  deps: { store: EventStore; client: Client; config: Config },
): void {
  const { store, client, config } = deps;
  const settings = sagaSettingsFrom(config);
  app.post<{ Body: PlaceOrderBody }>('/orders', async (request, reply) => {
    const { customerId, paymentAccountId, items, shippingAddress } = request.body;
    const orderId = randomUUID();
    const correlationId = randomUUID();
    const commandId = `place-order/${orderId}`;
    const total = items.reduce((sum, item) => sum + item.quantity * item.unitPrice, 0);
    const event: OrderPlaced = {
      type: 'OrderPlaced',
      data: {
        orderId,
        customerId,
        paymentAccountId,
        items: items.map((item) => ({ ...item, currency: ORDER_CURRENCY })),
        total,
        shippingAddress,
        placedAt: new Date().toISOString(),
      },
    };
    const appended = await store.append(
      orderStreamId(orderId),
      [
        {
          eventId: eventIdFor(commandId, 0),
          type: event.type,
          data: event.data,
          schemaVersion: ORDER_EVENT_SCHEMA_VERSIONS.OrderPlaced,
        },
      ],
      {
        expectedVersion: 0,
        streamType: ORDER_STREAM_TYPE,
        metadata: {
          correlation_id: correlationId,
          causation_id: commandId,
          command_id: commandId,
          command_type: 'PlaceOrder',
        },
      },
    );
    const input: OrderFulfillmentInput = {
      orderId,
      customerId,
      paymentAccountId,
      lines: items,
      total,
      correlationId,
      merchantAccountId: config.MERCHANT_ACCOUNT_ID,
      approvalThreshold: config.APPROVAL_THRESHOLD,
      approvalTimeout: config.APPROVAL_TIMEOUT,
      deliveryTimeout: config.DELIVERY_CONFIRMATION === 'carrier' ? config.DELIVERY_TIMEOUT : null,
      settings,
    };
    const sagaId = orderSagaId(orderId);
    await client.workflow.start('orderFulfillment', {
      workflowId: sagaId,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      args: [input],
    });
    return reply
      .code(202)
      .send({ orderId, sagaId, total, position: appended.lastPosition.toString() });
  });
}
