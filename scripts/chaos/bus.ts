/**
 * How far behind the bus is: the relay's lag behind the event store, and the loyalty
 * consumer's messages not yet delivered or not yet acked. The settle phase waits on these;
 * the integration checks report them.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Pool } from 'pg';
import { SAGAFLOW_STREAM } from '../../src/integration';
import { getRelayStatus } from '../../src/integration/relay/status';
import { LOYALTY_CONSUMER } from '../../src/services/loyalty/consumer';

export interface BusLag {
  /** Translated domain events past the relay's checkpoint. */
  relayEvents: number;
  /** Stream messages the loyalty consumer has not been delivered yet. */
  loyaltyPending: number;
  /** Delivered to the loyalty consumer, not acked. */
  loyaltyAckPending: number;
  /** Messages delivered more than once (a kill or an ack wait ran out). */
  loyaltyRedelivered: number;
}

export async function busLag(pool: Pool, nats: NatsConnection): Promise<BusLag> {
  const relay = await getRelayStatus(pool);
  const jsm = await jetstreamManager(nats);
  const consumer = await jsm.consumers.info(SAGAFLOW_STREAM, LOYALTY_CONSUMER);
  return {
    relayEvents: relay.lagEvents,
    loyaltyPending: consumer.num_pending,
    loyaltyAckPending: consumer.num_ack_pending,
    loyaltyRedelivered: consumer.num_redelivered,
  };
}

export const caughtUp = (lag: BusLag): boolean =>
  lag.relayEvents === 0 && lag.loyaltyPending === 0 && lag.loyaltyAckPending === 0;
