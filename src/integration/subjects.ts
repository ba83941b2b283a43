import { contractOf, type ContractAggregate, type ContractType } from './contracts';

/**
 * Subjects: `<owner>.<aggregate>.<id>.<event>.v<major>`, e.g. `sagaflow.order.o-1.completed.v1`.
 * Sagaflow owns `sagaflow.>`; a contract it consumes lives under its owner's prefix (the
 * carrier's `carrier.shipment.s-1.delivered.v1`). A consumer filters by aggregate
 * (`sagaflow.order.o-1.>`), by type (`sagaflow.order.*.completed.v1`) or takes everything.
 */

export const SAGAFLOW_SUBJECT_PREFIX = 'sagaflow';
/** The carrier's prefix for what it publishes (shipment.delivered.v1). */
export const CARRIER_SUBJECT_PREFIX = 'carrier';

/**
 * An id as one subject token: NATS tokens may not hold `.`, `*`, `>` or whitespace, so
 * those (and `%`) are percent-encoded. Ids without them (the usual case) stay readable.
 */
export function subjectToken(id: string): string {
  if (id.length === 0) throw new Error('an empty id cannot be a subject token');
  return id.replace(/[%.*>\s]/gu, (char) =>
    [...Buffer.from(char, 'utf8')]
      .map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`)
      .join(''),
  );
}

const prefixOf = (type: ContractType): string =>
  contractOf(type).direction === 'produced' ? SAGAFLOW_SUBJECT_PREFIX : CARRIER_SUBJECT_PREFIX;

/** The last two tokens of a contract's subjects: `completed.v1` for `order.completed.v1`. */
const eventTokens = (type: ContractType): string => type.slice(type.indexOf('.') + 1);

/** Where one message of a contract goes, keyed by its aggregate's id. */
export function subjectFor(type: ContractType, aggregateId: string): string {
  const { aggregate } = contractOf(type);
  return `${prefixOf(type)}.${aggregate}.${subjectToken(aggregateId)}.${eventTokens(type)}`;
}

/** Every message of one contract (a consumer's filter). */
export function subjectFilterFor(type: ContractType): string {
  const { aggregate } = contractOf(type);
  return `${prefixOf(type)}.${aggregate}.*.${eventTokens(type)}`;
}

/** Every message about one aggregate, whatever its type. */
export function aggregateSubjectFilter(
  aggregate: ContractAggregate,
  aggregateId: string,
  owner = SAGAFLOW_SUBJECT_PREFIX,
): string {
  return `${owner}.${aggregate}.${subjectToken(aggregateId)}.>`;
}
