import { Type, type Static, type TSchema } from '../infra/typebox';

/**
 * The integration-event catalogue: Sagaflow's public language on the bus. Contracts are
 * small and versioned; they carry ids, amounts, statuses and times, never a name, an address
 * or any other personal field. A published contract never changes incompatibly: a breaking
 * change is a new major version (`order.placed.v2`), published beside the old one for a while
 * (test/integration/contractCompatibility.unit.test.ts holds the committed snapshot).
 *
 * Consumers must ignore properties they do not know: adding an optional property is the one
 * change a major version allows.
 */

/** Who owns the contract: Sagaflow publishes it, or another service does and Sagaflow reads it. */
export type ContractDirection = 'produced' | 'consumed';

/** The entity a contract is about: the second token of its subject (see subjects.ts). */
export type ContractAggregate = 'order' | 'payment' | 'shipment' | 'transfer' | 'stock';

const Contract = <P extends Record<string, TSchema>>(properties: P) =>
  Type.Object(properties, { additionalProperties: false });
const Id = () => Type.String({ minLength: 1 });
/** Minor units of `currency`. */
const Amount = () => Type.Integer({ minimum: 0 });
const Currency = () => Type.String({ pattern: '^[A-Z]{3}$' });
/** RFC 3339 instant, UTC. */
const Instant = () => Type.String({ minLength: 1, description: 'RFC 3339 instant (UTC)' });
/** An upper-case code (`APPROVAL_TIMED_OUT`); the free text behind it stays inside Sagaflow. */
const ReasonCode = () => Type.String({ pattern: '^[A-Z][A-Z0-9_]*$' });

const OrderPlacedV1 = Contract({
  orderId: Id(),
  customerId: Id(),
  total: Amount(),
  currency: Currency(),
  lines: Type.Array(
    Contract({ sku: Id(), quantity: Type.Integer({ minimum: 1 }), unitPrice: Amount() }),
    {
      minItems: 1,
    },
  ),
  placedAt: Instant(),
});
const OrderCompletedV1 = Contract({
  orderId: Id(),
  customerId: Id(),
  total: Amount(),
  currency: Currency(),
  completedAt: Instant(),
});
const OrderCancelledV1 = Contract({
  orderId: Id(),
  customerId: Id(),
  reasonCode: ReasonCode(),
  cancelledAt: Instant(),
});
const PaymentCapturedV1 = Contract({
  orderId: Id(),
  accountId: Id(),
  amount: Amount(),
  capturedAt: Instant(),
});
const PaymentRefundedV1 = Contract({
  orderId: Id(),
  accountId: Id(),
  amount: Amount(),
  refundedAt: Instant(),
});
const ShipmentDispatchedV1 = Contract({
  shipmentId: Id(),
  orderId: Id(),
  dispatchedAt: Instant(),
});
const ShipmentDeliveredV1 = Contract({
  shipmentId: Id(),
  orderId: Id(),
  deliveredAt: Instant(),
});
const TransferCompletedV1 = Contract({
  transferId: Id(),
  fromAccountId: Id(),
  toAccountId: Id(),
  amount: Amount(),
  completedAt: Instant(),
});
const TransferFailedV1 = Contract({
  transferId: Id(),
  fromAccountId: Id(),
  toAccountId: Id(),
  amount: Amount(),
  reasonCode: ReasonCode(),
  failedAt: Instant(),
});
const StockDepletedV1 = Contract({
  sku: Id(),
  depletedAt: Instant(),
});

interface ContractSpec {
  aggregate: ContractAggregate;
  direction: ContractDirection;
  meaning: string;
  schema: TSchema;
}

/** Every contract, keyed by its type `<aggregate>.<event>.v<major>` (the CloudEvents `type`). */
const SPECS = {
  'order.placed.v1': {
    aggregate: 'order',
    direction: 'produced',
    meaning: 'A customer placed an order; its saga (stock, shipment, payment) starts.',
    schema: OrderPlacedV1,
  },
  'order.completed.v1': {
    aggregate: 'order',
    direction: 'produced',
    meaning: 'The order was paid and dispatched: the sale is final.',
    schema: OrderCompletedV1,
  },
  'order.cancelled.v1': {
    aggregate: 'order',
    direction: 'produced',
    meaning: 'The order was cancelled and compensated; reasonCode says why.',
    schema: OrderCancelledV1,
  },
  'payment.captured.v1': {
    aggregate: 'payment',
    direction: 'produced',
    meaning: "An order's amount was taken from its payment account (keyed by the order).",
    schema: PaymentCapturedV1,
  },
  'payment.refunded.v1': {
    aggregate: 'payment',
    direction: 'produced',
    meaning: "A captured order payment was paid back to the customer's account.",
    schema: PaymentRefundedV1,
  },
  'shipment.dispatched.v1': {
    aggregate: 'shipment',
    direction: 'produced',
    meaning: 'The shipment of an order left the warehouse and is with the carrier.',
    schema: ShipmentDispatchedV1,
  },
  'shipment.delivered.v1': {
    aggregate: 'shipment',
    direction: 'consumed',
    meaning: 'The carrier delivered the shipment (published by the carrier, not by Sagaflow).',
    schema: ShipmentDeliveredV1,
  },
  'transfer.completed.v1': {
    aggregate: 'transfer',
    direction: 'produced',
    meaning: 'Money moved from one account to another.',
    schema: TransferCompletedV1,
  },
  'transfer.failed.v1': {
    aggregate: 'transfer',
    direction: 'produced',
    meaning: 'A transfer did not happen (any debit is refunded); reasonCode says why.',
    schema: TransferFailedV1,
  },
  'stock.depleted.v1': {
    aggregate: 'stock',
    direction: 'produced',
    meaning: 'A SKU has no stock left to reserve (on hand minus reserved reached zero).',
    schema: StockDepletedV1,
  },
} as const satisfies Record<string, ContractSpec>;

export type ContractType = keyof typeof SPECS;
export type ProducedContractType = {
  [T in ContractType]: (typeof SPECS)[T]['direction'] extends 'produced' ? T : never;
}[ContractType];
export type ConsumedContractType = Exclude<ContractType, ProducedContractType>;

/** The data of a contract's messages. */
export type ContractData<T extends ContractType> = Static<(typeof SPECS)[T]['schema']>;

export interface ContractDefinition<T extends ContractType = ContractType> extends ContractSpec {
  /** e.g. `order.placed.v1`. */
  type: T;
  /** e.g. `order.placed`. */
  name: string;
  /** Major version. */
  version: number;
}

const TYPE = /^([a-z]+)\.([a-z-]+)\.v([1-9][0-9]*)$/;

function define<T extends ContractType>(type: T): ContractDefinition<T> {
  const match = TYPE.exec(type);
  if (!match) throw new Error(`contract type ${type} must look like <aggregate>.<event>.v<major>`);
  const spec: ContractSpec = SPECS[type];
  if (match[1] !== spec.aggregate) throw new Error(`contract ${type}: aggregate ${spec.aggregate}`);
  return { type, name: `${match[1]}.${match[2]}`, version: Number(match[3]), ...spec };
}

export const CONTRACTS: readonly ContractDefinition[] = (Object.keys(SPECS) as ContractType[]).map(
  define,
);

export function contractOf<T extends ContractType>(type: T): ContractDefinition<T> {
  return define(type);
}

export function isContractType(value: string): value is ContractType {
  return Object.hasOwn(SPECS, value);
}

export const PRODUCED_CONTRACTS = CONTRACTS.filter((c) => c.direction === 'produced');
export const CONSUMED_CONTRACTS = CONTRACTS.filter((c) => c.direction === 'consumed');
