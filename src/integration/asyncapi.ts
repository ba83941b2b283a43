import { CONTRACTS, type ContractDefinition } from './contracts';
import { CLOUDEVENTS_CONTENT_TYPE, envelopeSchema } from './envelope';
import { SAGAFLOW_STREAM, CARRIER_STREAM } from './stream';
import { subjectFilterFor } from './subjects';

/**
 * The AsyncAPI 3 document of the contracts: one channel per contract (its subject, with the
 * aggregate id as a parameter), a send operation for each one Sagaflow publishes and a
 * receive operation for each one it consumes, and every schema. Served at /asyncapi.json and
 * committed as docs/asyncapi.json (test/integration/asyncapi.unit.test.ts keeps them equal).
 */

/** Plain JSON (TypeBox schemas are JSON Schema objects already). */
const json = (value: unknown): unknown => JSON.parse(JSON.stringify(value)) as unknown;

function channelOf(contract: ContractDefinition) {
  const address = subjectFilterFor(contract.type).replace('.*.', '.{aggregateId}.');
  return {
    address,
    title: contract.type,
    description: `${contract.meaning} JetStream stream ${
      contract.direction === 'produced' ? SAGAFLOW_STREAM : CARRIER_STREAM
    }.`,
    parameters: {
      aggregateId: {
        description: `The ${contract.aggregate}'s id (one subject token: '.', '*', '>', '%' and whitespace percent-encoded).`,
      },
    },
    messages: { [contract.type]: { $ref: `#/components/messages/${contract.type}` } },
  };
}

function messageOf(contract: ContractDefinition) {
  return {
    name: contract.type,
    title: `${contract.name} v${contract.version}`,
    summary: contract.meaning,
    contentType: CLOUDEVENTS_CONTENT_TYPE,
    headers: {
      type: 'object',
      properties: {
        'Nats-Msg-Id': {
          type: 'string',
          description:
            'The message id (CloudEvents id): JetStream drops a repeat inside its duplicate window',
        },
        'Content-Type': { type: 'string', const: CLOUDEVENTS_CONTENT_TYPE },
        'Ce-Type': { type: 'string', const: contract.type },
        traceparent: { type: 'string', description: 'W3C trace context, when known' },
      },
    },
    payload: { $ref: `#/components/schemas/${contract.type}.message` },
    ...(contract.direction === 'produced' && {
      correlationId: { location: '$message.payload#/correlationid' },
    }),
  };
}

export function buildAsyncApiDocument(version = '1.0.0') {
  const channels = Object.fromEntries(CONTRACTS.map((c) => [c.type, channelOf(c)]));
  const operations = Object.fromEntries(
    CONTRACTS.map((c) => [
      `${c.direction === 'produced' ? 'publish' : 'consume'}.${c.type}`,
      {
        action: c.direction === 'produced' ? 'send' : 'receive',
        channel: { $ref: `#/channels/${c.type}` },
        messages: [{ $ref: `#/channels/${c.type}/messages/${c.type}` }],
        summary:
          c.direction === 'produced'
            ? `Sagaflow's outbox relay publishes ${c.type}`
            : `Sagaflow consumes ${c.type} (published by its owner)`,
      },
    ]),
  );
  const schemas = Object.fromEntries(
    CONTRACTS.flatMap((c) => [
      [c.type, json(c.schema)],
      [`${c.type}.message`, json(envelopeSchema(c.type))],
    ]),
  );
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Sagaflow integration events',
      version,
      description:
        "Sagaflow's public contracts: CloudEvents 1.0 (structured JSON) on NATS JetStream. " +
        'A contract never changes incompatibly: a breaking change is a new major version (the `.vN` of its type and subject). ' +
        'Consumers ignore properties they do not know. Outside consumers that cannot reach NATS read the same messages from GET /integration-events.',
    },
    defaultContentType: CLOUDEVENTS_CONTENT_TYPE,
    servers: {
      embedded: {
        host: '127.0.0.1:14222',
        protocol: 'nats',
        description:
          '`npm start` without NATS_URL (set NATS_URL for a server or cluster of your own)',
      },
    },
    channels,
    operations,
    components: {
      messages: Object.fromEntries(CONTRACTS.map((c) => [c.type, messageOf(c)])),
      schemas,
    },
  };
}
