import type { Client } from '@temporalio/client';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Pool, PoolClient } from 'pg';
import type { Logger } from 'pino';
import {
  CARRIER_STREAM,
  subjectFilterFor,
  type ContractData,
  type InboundMessage,
} from '../integration';
import { applyOnce, type Inbox } from '../messaging/inbox';
import {
  runDurableConsumer,
  type DurableConsumerOptions,
  type DurableConsumerSpec,
  type RunningConsumer,
} from '../messaging/durableConsumer';
import { orderSagaId } from '../sagas/sagaIds';
import { isWorkflowNotFound } from '../temporal/workflowLookup';
import { shipmentDeliveredSignal } from '../../workflows/delivery';

/**
 * Inbound: the carrier's shipment.delivered.v1 becomes the `shipmentDelivered` signal of
 * the order's saga. Once per message id: the inbox row and the effect record commit
 * together, after the signal was accepted, and the message is acked after the commit. A
 * crash between the signal and the commit sends the signal again on redelivery: the saga
 * keeps the first confirmation and ignores the rest (workflows/delivery.ts).
 */
export const DELIVERY_CONSUMER = 'sagaflow-delivery';
const DELIVERED = 'shipment.delivered.v1';
const INBOX: Inbox = { table: 'delivery_inbox' };

export interface DeliveryConsumerDeps {
  nc: NatsConnection;
  pool: Pool;
  client: Client;
  log: Logger;
  spec?: Partial<DurableConsumerSpec>;
  beforeAck?: DurableConsumerOptions['beforeAck'];
}

export function startDeliveryConsumer(deps: DeliveryConsumerDeps): Promise<RunningConsumer> {
  const log = deps.log.child({ component: 'delivery-consumer' });
  const spec: DurableConsumerSpec = {
    name: DELIVERY_CONSUMER,
    stream: CARRIER_STREAM,
    filterSubjects: [subjectFilterFor(DELIVERED)],
    ackWaitMs: 30_000,
    maxDeliver: 10,
    retryDelayMs: 2_000,
    ...deps.spec,
  };
  return runDurableConsumer(
    deps.nc,
    spec,
    async (message) => {
      if (!isDelivered(message)) throw new Error(`unexpected ${message.type} on ${spec.name}`);
      const outcome = await applyOnce(deps.pool, INBOX, message, (tx) =>
        confirmDelivery(deps.client, tx, message),
      );
      log.info({ id: message.id, orderId: message.data.orderId, outcome }, 'delivery confirmation');
    },
    { log, ...(deps.beforeAck && { beforeAck: deps.beforeAck }) },
  );
}

const isDelivered = (message: InboundMessage): message is InboundMessage<typeof DELIVERED> =>
  message.type === DELIVERED;

async function confirmDelivery(
  client: Client,
  tx: PoolClient,
  message: InboundMessage<typeof DELIVERED>,
): Promise<void> {
  const data: ContractData<typeof DELIVERED> = message.data;
  const outcome = await signalSaga(client, message.id, data);
  await tx.query(
    `INSERT INTO delivery_confirmations (message_id, order_id, shipment_id, delivered_at, outcome)
     VALUES ($1, $2, $3, $4, $5)`,
    [message.id, data.orderId, data.shipmentId, data.deliveredAt, outcome],
  );
}

async function signalSaga(
  client: Client,
  messageId: string,
  data: ContractData<typeof DELIVERED>,
): Promise<'signalled' | 'no running saga'> {
  try {
    await client.workflow.getHandle(orderSagaId(data.orderId)).signal(shipmentDeliveredSignal, {
      messageId,
      shipmentId: data.shipmentId,
      deliveredAt: data.deliveredAt,
    });
    return 'signalled';
  } catch (error) {
    // A finished saga (or none): nothing waits for this confirmation. Recorded, not retried.
    if (isWorkflowNotFound(error)) return 'no running saga';
    throw error;
  }
}
