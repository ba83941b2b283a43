import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JsMsg,
} from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { deterministicId } from '../../eventstore/eventIds';
import {
  decodeMessage,
  encodeMessage,
  SAGAFLOW_STREAM,
  subjectFilterFor,
  subjectFor,
  type ContractData,
  type InboundMessage,
} from '../../integration';
import { planDelivery, type DeliveryPlan } from './plan';
import type { CarrierSimulatorSettings } from './settings';

/**
 * A fake carrier that behaves like a real one on the bus: it reads Sagaflow's
 * shipment.dispatched.v1 and, a while later, publishes its own shipment.delivered.v1 on
 * `carrier.shipment.<shipmentId>.delivered.v1`. Sometimes late, sometimes twice: the second
 * copy has the same CloudEvents id but another Nats-Msg-Id (a resend JetStream cannot
 * recognise), so it reaches consumers and their inboxes must drop it.
 */
export const CARRIER_SIMULATOR_CONSUMER = 'carrier-simulator';
const DISPATCHED = 'shipment.dispatched.v1';
const DELIVERED = 'shipment.delivered.v1';
export const CARRIER_SOURCE = 'urn:carrier-simulator';
/** A resend follows the first confirmation after this long. */
const RESEND_AFTER_MS = 300;

export interface CarrierSimulatorDeps {
  nc: NatsConnection;
  log: Logger;
  settings: CarrierSimulatorSettings;
}

export interface RunningCarrierSimulator {
  /** Stops; confirmations not yet sent stay unacked and are redelivered to the next one. */
  stop(): Promise<void>;
}

/** The confirmation of one delivery: its id is the shipment's, so a re-publish is recognisable. */
export function deliveredMessage(
  dispatched: ContractData<typeof DISPATCHED>,
  deliveredAt: Date,
): InboundMessage<typeof DELIVERED> {
  return {
    specversion: '1.0',
    id: deterministicId('carrier-delivered', dispatched.shipmentId),
    source: CARRIER_SOURCE,
    type: DELIVERED,
    subject: dispatched.shipmentId,
    time: deliveredAt.toISOString(),
    data: {
      shipmentId: dispatched.shipmentId,
      orderId: dispatched.orderId,
      deliveredAt: deliveredAt.toISOString(),
    },
  };
}

export async function startCarrierSimulator(
  deps: CarrierSimulatorDeps,
): Promise<RunningCarrierSimulator> {
  const log = deps.log.child({ component: 'carrier-simulator' });
  const { settings } = deps;
  const jsm = await jetstreamManager(deps.nc);
  // Unacked until its confirmation is out: the longest wait, plus a margin.
  const ackWait = nanos(Math.max(settings.delayMs.max, settings.lateDelayMs) + 30_000);
  const config = {
    ack_policy: AckPolicy.Explicit,
    ack_wait: ackWait,
    filter_subjects: [subjectFilterFor(DISPATCHED)],
    max_ack_pending: 10_000,
  };
  const existing = await jsm.consumers
    .info(SAGAFLOW_STREAM, CARRIER_SIMULATOR_CONSUMER)
    .catch(() => undefined);
  if (existing) await jsm.consumers.update(SAGAFLOW_STREAM, CARRIER_SIMULATOR_CONSUMER, config);
  else
    await jsm.consumers.add(SAGAFLOW_STREAM, {
      ...config,
      durable_name: CARRIER_SIMULATOR_CONSUMER,
      deliver_policy: DeliverPolicy.All,
    });

  const js = jetstream(deps.nc);
  const consumer = await js.consumers.get(SAGAFLOW_STREAM, CARRIER_SIMULATOR_CONSUMER);
  const messages = await consumer.consume({ max_messages: 256 });
  const timers = new Set<NodeJS.Timeout>();
  const schedule = (ms: number, fn: () => Promise<void>) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn().catch((error: unknown) => log.warn({ err: error }, 'confirmation not sent; retried'));
    }, ms);
    timers.add(timer);
  };

  const loop = (async () => {
    for await (const raw of messages) {
      let dispatched: ContractData<typeof DISPATCHED>;
      try {
        const message = decodeMessage(raw.data);
        if (message.type !== DISPATCHED) throw new Error(`unexpected ${message.type}`);
        dispatched = message.data as ContractData<typeof DISPATCHED>;
      } catch (error) {
        log.warn({ err: error, subject: raw.subject }, 'not a dispatch the carrier understands');
        raw.term();
        continue;
      }
      const plan = planDelivery(settings, dispatched.shipmentId);
      log.debug({ shipmentId: dispatched.shipmentId, plan }, 'shipment picked up');
      schedule(plan.delayMs, () => confirm(js, raw, dispatched, plan, schedule, log));
    }
  })();

  return {
    async stop() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await messages.close();
      await loop;
    },
  };
}

async function confirm(
  js: JetStreamClient,
  raw: JsMsg,
  dispatched: ContractData<typeof DISPATCHED>,
  plan: DeliveryPlan,
  schedule: (ms: number, fn: () => Promise<void>) => void,
  log: Logger,
): Promise<void> {
  const message = deliveredMessage(dispatched, new Date());
  const subject = subjectFor(DELIVERED, dispatched.shipmentId);
  const bytes = encodeMessage(message);
  try {
    await js.publish(subject, bytes, { msgID: message.id });
  } catch (error) {
    // Not acked: the dispatch comes back after ack_wait and the carrier tries again.
    raw.nak(5_000);
    throw error;
  }
  raw.ack();
  log.info(
    {
      shipmentId: dispatched.shipmentId,
      orderId: dispatched.orderId,
      late: plan.late,
      twice: plan.twice,
    },
    'carrier confirmed delivery',
  );
  if (plan.twice) {
    schedule(RESEND_AFTER_MS, async () => {
      await js.publish(subject, bytes, { msgID: `${message.id}/resent` });
    });
  }
}
