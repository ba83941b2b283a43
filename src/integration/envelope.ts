import { hash as hashOnce } from 'node:crypto';
import { SAGAFLOW_NAMESPACE } from '../eventstore/eventIds';
import { Compile, Type, type CompiledSchema, type TSchema } from '../infra/typebox';
import { CONTRACTS, contractOf, type ContractData, type ContractType } from './contracts';

/**
 * The envelope: a CloudEvents 1.0 event in structured JSON mode. Why CloudEvents: its
 * attributes (id, source, type, subject, time) are the ones we need anyway, every language
 * has an SDK that reads it, and AsyncAPI, Knative, EventBridge and the HTTP feed speak it, so
 * the same bytes travel over NATS and HTTP. Sagaflow's own facts are CloudEvents extension
 * attributes (lower-case, no separators, as the spec requires):
 *
 * - `id`: the message id, derived from the source event id and the contract type (a
 *   re-publish has the same id: JetStream's `Nats-Msg-Id` dedupe and consumer inboxes key on it);
 * - `type`: the contract, e.g. `order.completed.v1`; `subject`: the aggregate's id;
 * - `time`: when the fact happened (the source event's occurredAt);
 * - `sourcestream`, `sourceversion`: the domain event's stream and version;
 * - `globalposition`: its position in the event store (a decimal string: it outgrows 2^31);
 * - `correlationid`, `causationid`: the saga's correlation and the event's cause;
 * - `traceparent`: W3C trace context (the CloudEvents distributed-tracing extension), when known.
 */

export const CLOUDEVENTS_SPEC_VERSION = '1.0';
export const SAGAFLOW_SOURCE = 'urn:sagaflow';
export const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json';

export interface IntegrationMessage<T extends ContractType = ContractType> {
  specversion: typeof CLOUDEVENTS_SPEC_VERSION;
  id: string;
  source: string;
  type: T;
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  dataschema: string;
  sourcestream: string;
  sourceversion: number;
  globalposition: string;
  correlationid?: string;
  causationid?: string;
  traceparent?: string;
  data: ContractData<T>;
}

/**
 * A message another service published (shipment.delivered.v1): the CloudEvents core only,
 * the Sagaflow extensions are not its to fill.
 */
export type InboundMessage<T extends ContractType = ContractType> = Pick<
  IntegrationMessage<T>,
  'specversion' | 'id' | 'source' | 'type' | 'subject' | 'time' | 'data'
> &
  Partial<
    Omit<
      IntegrationMessage<T>,
      'specversion' | 'id' | 'source' | 'type' | 'subject' | 'time' | 'data'
    >
  >;

/** The UUID v5 namespace, then room for the name (one buffer, reused: hashed synchronously). */
const NAME_BUFFER = Buffer.alloc(1024);
const NAMESPACE_LENGTH = NAME_BUFFER.write(SAGAFLOW_NAMESPACE.replaceAll('-', ''), 'hex');

/**
 * The deterministic message id of one contract translated from one domain event: the UUID v5
 * `deterministicId('integration', sourceEventId, type)` names, computed with node's one-shot
 * SHA-1 over a reused buffer (the uuid package's v5 took 30 µs a message, a fifth of the
 * relay's time; a createHash object per message, a third of what is left).
 */
export function messageIdFor(sourceEventId: string, type: ContractType): string {
  const name = `integration/${sourceEventId}/${type}`;
  const input =
    name.length * 3 <= NAME_BUFFER.length - NAMESPACE_LENGTH
      ? NAME_BUFFER.subarray(0, NAMESPACE_LENGTH + NAME_BUFFER.write(name, NAMESPACE_LENGTH))
      : Buffer.concat([NAME_BUFFER.subarray(0, NAMESPACE_LENGTH), Buffer.from(name, 'utf8')]);
  const hash = hashOnce('sha1', input, 'buffer');
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Where a contract's schema is described (its AsyncAPI message). */
export const dataSchemaOf = (type: ContractType): string =>
  `/asyncapi.json#/components/schemas/${type}`;

/** What the relay knows about the domain event a message comes from. */
export interface MessageSource {
  eventId: string;
  streamId: string;
  version: number;
  globalPosition: bigint;
  occurredAt: Date;
  correlationId?: string;
  causationId?: string;
  traceparent?: string;
}

export function buildMessage<T extends ContractType>(
  type: T,
  aggregateId: string,
  data: ContractData<T>,
  source: MessageSource,
): IntegrationMessage<T> {
  return {
    specversion: CLOUDEVENTS_SPEC_VERSION,
    id: messageIdFor(source.eventId, type),
    source: SAGAFLOW_SOURCE,
    type,
    subject: aggregateId,
    time: source.occurredAt.toISOString(),
    datacontenttype: 'application/json',
    dataschema: dataSchemaOf(type),
    sourcestream: source.streamId,
    sourceversion: source.version,
    globalposition: source.globalPosition.toString(),
    ...(source.correlationId !== undefined && { correlationid: source.correlationId }),
    ...(source.causationId !== undefined && { causationid: source.causationId }),
    ...(source.traceparent !== undefined && { traceparent: source.traceparent }),
    data,
  };
}

const W3C_TRACEPARENT = '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$';

/** The JSON schema of a whole message of one contract (envelope and data). */
export function envelopeSchema(type: ContractType): TSchema {
  const contract = contractOf(type);
  const id = Type.String({ minLength: 1 });
  const core = {
    specversion: Type.Literal(CLOUDEVENTS_SPEC_VERSION),
    id,
    source: Type.String({ minLength: 1 }),
    type: Type.Literal(type),
    subject: id,
    time: Type.String({ minLength: 1 }),
    data: contract.schema,
  };
  const extensions = {
    datacontenttype: Type.Literal('application/json'),
    dataschema: Type.String({ minLength: 1 }),
    sourcestream: id,
    sourceversion: Type.Integer({ minimum: 1 }),
    globalposition: Type.String({ pattern: '^[1-9][0-9]*$' }),
  };
  const optional = {
    correlationid: Type.Optional(id),
    causationid: Type.Optional(id),
    traceparent: Type.Optional(Type.String({ pattern: W3C_TRACEPARENT })),
  };
  if (contract.direction === 'consumed') {
    const loose = Object.fromEntries(
      Object.entries(extensions).map(([key, schema]) => [key, Type.Optional(schema)]),
    );
    return Type.Object({ ...core, ...loose, ...optional });
  }
  return Type.Object({ ...core, ...extensions, ...optional }, { additionalProperties: false });
}

const compiled = new Map<ContractType, CompiledSchema>(
  CONTRACTS.map((contract) => [contract.type, Compile(envelopeSchema(contract.type))]),
);

/** A message that does not match its contract. */
export class ContractViolationError extends Error {
  override readonly name = 'ContractViolationError';
  constructor(
    readonly type: string,
    readonly problems: string[],
  ) {
    super(`message of ${type} breaks its contract: ${problems.join('; ')}`);
  }
}

/** Problems of a message against its contract's schema ([] when it matches). */
export function contractProblems(message: { type?: unknown }): string[] {
  const type = message.type;
  if (typeof type !== 'string' || !compiled.has(type as ContractType))
    return [`unknown contract type ${JSON.stringify(type)}`];
  const schema = compiled.get(type as ContractType)!;
  if (schema.Check(message)) return [];
  return schema.Errors(message).map((error) => `${error.instancePath || '/'} ${error.message}`);
}

/** Parses a message's bytes and checks them against its contract. */
export function decodeMessage(bytes: Uint8Array): InboundMessage {
  const message = JSON.parse(Buffer.from(bytes).toString('utf8')) as { type?: unknown };
  const problems = contractProblems(message);
  if (problems.length > 0) throw new ContractViolationError(String(message.type), problems);
  return message as InboundMessage;
}

export function encodeMessage(message: InboundMessage): Uint8Array {
  return Buffer.from(JSON.stringify(message), 'utf8');
}
