/**
 * Dead letters of the JetStream consumers (loyalty, sagaflow-delivery):
 *
 *   npm run dead-letters -- list [consumer]     every dead letter, oldest first, with its error
 *   npm run dead-letters -- replay <sequence>   sends one back to its consumer
 *
 * NATS_URL names the server (default nats://127.0.0.1:4222, the embedded one of `npm start`).
 */
import { connectNats } from '../integration';
import { listDeadLetters, replayDeadLetter } from './deadLetters';

async function main(): Promise<void> {
  const [command, argument] = process.argv.slice(2);
  const nc = await connectNats({
    url: process.env.NATS_URL || 'nats://127.0.0.1:4222',
    name: 'dead-letters-cli',
  });
  try {
    if (command === 'list') {
      const entries = await listDeadLetters(nc, argument);
      if (entries.length === 0) console.log('no dead letters');
      for (const e of entries) {
        console.log(
          `#${e.sequence}  ${e.consumer}  ${e.originalSubject} (${e.originalStream} #${e.originalSequence})` +
            `  ${e.deliveries} deliveries  ${e.deadLetteredAt}` +
            `${e.replays.length > 0 ? `  replayed as #${e.replays.join(', #')}` : ''}\n    id ${e.messageId ?? '?'}: ${e.error}`,
        );
      }
    } else if (command === 'replay' && argument && /^\d+$/.test(argument)) {
      const { consumer, replaySequence } = await replayDeadLetter(nc, Number(argument));
      console.log(`dead letter #${argument} sent back to ${consumer} (replay #${replaySequence})`);
    } else {
      console.error('usage: dead-letters list [consumer] | dead-letters replay <sequence>');
      process.exitCode = 2;
    }
  } finally {
    await nc.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
