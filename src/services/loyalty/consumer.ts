import type { NatsConnection } from '@nats-io/transport-node';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { SAGAFLOW_STREAM, subjectFilterFor, type InboundMessage } from '../../integration';
import {
  runDurableConsumer,
  type DurableConsumerOptions,
  type DurableConsumerSpec,
  type RunningConsumer,
} from '../../messaging/durableConsumer';
import { applyOnce, type Inbox } from '../../messaging/inbox';
import { earn, takeBack } from './store';

export const LOYALTY_CONSUMER = 'loyalty';
const INBOX: Inbox = { table: 'loyalty.inbox' };

const COMPLETED = 'order.completed.v1';
const REFUNDED = 'payment.refunded.v1';

export interface LoyaltyConsumerDeps {
  nc: NatsConnection;
  pool: Pool;
  log: Logger;
  spec: Pick<DurableConsumerSpec, 'ackWaitMs' | 'maxDeliver' | 'retryDelayMs'>;
  beforeAck?: DurableConsumerOptions['beforeAck'];
}

/** Points earned on order.completed.v1, taken back on payment.refunded.v1: once per message id. */
export function startLoyaltyConsumer(deps: LoyaltyConsumerDeps): Promise<RunningConsumer> {
  const log = deps.log.child({ component: 'loyalty-consumer' });
  return runDurableConsumer(
    deps.nc,
    {
      name: LOYALTY_CONSUMER,
      stream: SAGAFLOW_STREAM,
      filterSubjects: [subjectFilterFor(COMPLETED), subjectFilterFor(REFUNDED)],
      ...deps.spec,
    },
    async (message) => {
      const outcome = await applyOnce(deps.pool, INBOX, message, async (tx) => {
        if (is(message, COMPLETED)) await earn(tx, message.data);
        else if (is(message, REFUNDED)) await takeBack(tx, message.data);
        else throw new Error(`loyalty does not handle ${message.type}`);
      });
      log.debug({ id: message.id, type: message.type, outcome }, 'applied');
    },
    { log, ...(deps.beforeAck && { beforeAck: deps.beforeAck }) },
  );
}

const is = <T extends typeof COMPLETED | typeof REFUNDED>(
  message: InboundMessage,
  type: T,
): message is InboundMessage<T> => message.type === type;
