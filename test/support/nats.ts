import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { startNatsServer, type NatsServerHandle } from '../../src/infra/natsServer';
import {
  connectAndEnsureStreams,
  connectNats,
  decodeMessage,
  SAGAFLOW_STREAM,
  type IntegrationMessage,
} from '../../src/integration';
import { TEST_NATS_URL } from './infrastructure';

/**
 * NATS for tests. globalSetup starts one nats-server (2.10+, JetStream, free ports, a temp
 * store) for the run: connectSharedTestNats() reaches it. The Sagaflow streams have fixed
 * names, so a file that publishes to them or counts their messages starts its own server with
 * startTestNatsServer() (about 50 ms), which it may also kill and restart.
 */

export function sharedTestNatsUrl(): string {
  const url = process.env[TEST_NATS_URL];
  if (!url)
    throw new Error('No test nats-server: run the tests through jest (globalSetup starts it)');
  return url;
}

export function connectSharedTestNats(name = 'sagaflow-test'): Promise<NatsConnection> {
  return connectNats({ url: sharedTestNatsUrl(), name });
}

export interface TestNats extends NatsServerHandle {
  /** A connection with the streams created (closed by stop()). */
  connect(name?: string): Promise<NatsConnection>;
  /** Messages in SAGAFLOW_STREAM. */
  messageCount(): Promise<number>;
  /** Every message of SAGAFLOW_STREAM in stream order, decoded and checked against its contract. */
  readAll(): Promise<StoredMessage[]>;
  /** Shuts the server down cleanly (SIGTERM), keeping its store and clients: restart() brings it back. */
  halt(): Promise<void>;
}

export interface StoredMessage {
  seq: number;
  subject: string;
  /** The Nats-Msg-Id header. */
  msgId: string | undefined;
  message: IntegrationMessage;
}

/** Every message of a stream, in order, through an ordered consumer. */
export async function readStreamMessages(
  nc: NatsConnection,
  stream = SAGAFLOW_STREAM,
): Promise<StoredMessage[]> {
  const total = (await (await jetstreamManager(nc)).streams.info(stream)).state.messages;
  const out: StoredMessage[] = [];
  if (total === 0) return out;
  const consumer = await jetstream(nc).consumers.get(stream);
  const messages = await consumer.consume();
  for await (const m of messages) {
    out.push({
      seq: m.seq,
      subject: m.subject,
      msgId: m.headers?.get('Nats-Msg-Id'),
      message: decodeMessage(m.data) as IntegrationMessage,
    });
    if (m.info.pending === 0) break;
  }
  await messages.close();
  return out;
}

/** A nats-server of this test file's own, in a fresh temp dir (removed by stop()). */
export async function startTestNatsServer(): Promise<TestNats> {
  const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagaflow-nats-'));
  const server = await startNatsServer({ executable: process.env.NATS_SERVER_PATH, storeDir });
  const connections: NatsConnection[] = [];
  const connect = async (name = 'sagaflow-test') => {
    const nc = await connectAndEnsureStreams({ url: server.url, name });
    connections.push(nc);
    return nc;
  };
  return {
    ...server,
    connect,
    async messageCount() {
      const nc = await connectNats({ url: server.url, name: 'sagaflow-test-count' });
      try {
        const info = await (await jetstreamManager(nc)).streams.info(SAGAFLOW_STREAM);
        return info.state.messages;
      } finally {
        await nc.close();
      }
    },
    async readAll() {
      const nc = await connectNats({ url: server.url, name: 'sagaflow-test-read' });
      try {
        return await readStreamMessages(nc);
      } finally {
        await nc.close();
      }
    },
    halt: () => server.stop(),
    async stop() {
      await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)));
      await server.stop();
      fs.rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
