import type { JetStreamClient, PubAck } from '@nats-io/jetstream';
import { CheckpointChain } from '../../src/integration/relay/checkpointChain';
import { OrderedPublisher, type OutgoingMessage } from '../../src/integration/relay/publisher';

/**
 * The relay's publish window and checkpoint chain, against a JetStream stand-in whose PubAcks
 * the test releases by hand (the order and failures a real server rarely shows on cue). The
 * real path is in relayCrash.int.test.ts and sagaContracts.int.test.ts.
 */

interface Pending {
  subject: string;
  id: string;
  ack(): void;
  fail(error: Error): void;
}

function fakeJetStream() {
  const sent: Pending[] = [];
  const js = {
    publish: (subject: string, _payload: Uint8Array, options: { msgID: string }) =>
      new Promise<PubAck>((resolve, reject) => {
        sent.push({
          subject,
          id: options.msgID,
          ack: () => resolve({ stream: 'S', seq: sent.length, duplicate: false }),
          fail: reject,
        });
      }),
  };
  return { js: js as unknown as JetStreamClient, sent };
}

const message = (aggregate: string, n: number): OutgoingMessage => ({
  subject: `sagaflow.order.${aggregate}.placed.v1`,
  orderingKey: `order.${aggregate}`,
  message: { id: `${aggregate}-${n}`, type: 'order.placed.v1' } as OutgoingMessage['message'],
  payload: new Uint8Array(),
});

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('OrderedPublisher', () => {
  it('sends the next batch while the last PubAcks of the previous one are pending', async () => {
    const { js, sent } = fakeJetStream();
    const publisher = new OrderedPublisher(js, { window: 4, ackTimeoutMs: 1000 });
    const first = await publisher.send([message('a', 1), message('b', 1)]);
    const second = await publisher.send([message('c', 1)]);
    await turn();
    expect(sent.map((p) => p.id)).toEqual(['a-1', 'b-1', 'c-1']);
    let firstDone = false;
    void first.acked.then(() => (firstDone = true));
    sent[0]!.ack();
    sent[2]!.ack();
    await turn();
    expect(firstDone).toBe(false); // b-1 is not acknowledged yet
    sent[1]!.ack();
    await expect(first.acked).resolves.toEqual({ acked: 2, duplicates: 0 });
    await expect(second.acked).resolves.toEqual({ acked: 1, duplicates: 0 });
  });

  it('keeps at most `window` messages awaiting their PubAck', async () => {
    const { js, sent } = fakeJetStream();
    const publisher = new OrderedPublisher(js, { window: 2, ackTimeoutMs: 1000 });
    const sending = publisher.send([message('a', 1), message('b', 1), message('c', 1)]);
    await turn();
    expect(sent).toHaveLength(2);
    sent[0]!.ack();
    await turn();
    expect(sent).toHaveLength(3);
    sent[1]!.ack();
    sent[2]!.ack();
    await expect((await sending).acked).resolves.toEqual({ acked: 3, duplicates: 0 });
  });

  it('sends a message of an aggregate only after the previous one of it is acknowledged, across batches', async () => {
    const { js, sent } = fakeJetStream();
    const publisher = new OrderedPublisher(js, { window: 8, ackTimeoutMs: 1000 });
    await publisher.send([message('a', 1), message('b', 1)]);
    await publisher.send([message('a', 2)]);
    await turn();
    expect(sent.map((p) => p.id)).toEqual(['a-1', 'b-1']);
    sent[0]!.ack();
    await turn();
    expect(sent.map((p) => p.id)).toEqual(['a-1', 'b-1', 'a-2']);
  });

  it('after a failure sends nothing more: later messages of the aggregate never overtake it', async () => {
    const { js, sent } = fakeJetStream();
    const publisher = new OrderedPublisher(js, { window: 8, ackTimeoutMs: 1000 });
    const first = await publisher.send([message('a', 1), message('b', 1)]);
    const second = await publisher.send([message('a', 2)]);
    await turn();
    sent[0]!.fail(new Error('timeout'));
    sent[1]!.ack();
    await expect(first.acked).rejects.toThrow('timeout');
    await expect(second.acked).rejects.toThrow('timeout');
    expect(sent.map((p) => p.id)).toEqual(['a-1', 'b-1']);
    await expect(publisher.send([message('c', 1)])).rejects.toThrow('timeout');
    expect(sent).toHaveLength(2);
  });
});

describe('CheckpointChain', () => {
  it('writes in order, and none after a failed one', async () => {
    const chain = new CheckpointChain();
    const written: number[] = [];
    let releaseFirst!: () => void;
    const firstGate = new Promise<void>((resolve) => (releaseFirst = resolve));
    chain.add(async () => {
      await firstGate;
      written.push(1);
      return 10;
    });
    chain.add(async () => {
      written.push(2);
      throw new Error('connection lost');
    });
    chain.add(async () => {
      written.push(3);
      return 10;
    });
    await turn();
    expect(written).toEqual([]);
    releaseFirst();
    await expect(chain.done()).rejects.toThrow('connection lost');
    expect(written).toEqual([1, 2]);
    expect(chain.going).toBe(false);
  });

  it('tells the relay when fewer than n writes are queued', async () => {
    const chain = new CheckpointChain();
    const gates: Array<() => void> = [];
    for (let i = 0; i < 3; i++) {
      chain.add(() => new Promise<number>((resolve) => gates.push(() => resolve(1))));
    }
    let room = false;
    void chain.fewerThan(2).then(() => (room = true));
    await turn();
    expect(room).toBe(false);
    gates[0]!();
    await turn();
    expect(room).toBe(false); // two still queued
    gates[1]!();
    await turn();
    expect(room).toBe(true);
    gates[2]!();
    await expect(chain.done()).resolves.toBe(3);
  });

  it('stops at a write that finds the checkpoint moved, and counts what was checkpointed', async () => {
    const chain = new CheckpointChain();
    chain.add(async () => 5);
    chain.add(async () => undefined);
    let ranAfter = false;
    chain.add(async () => {
      ranAfter = true;
      return 5;
    });
    await expect(chain.done()).resolves.toBe(5);
    expect(ranAfter).toBe(false);
  });
});
