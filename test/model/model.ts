import { deterministicId } from '../../src/eventstore';

/**
 * What the model knows about the system: what was put in (deposits, restocks), which
 * orders and transfers exist and what the API promised about them. Sagas are asynchronous,
 * so the model does not predict each outcome; the invariants judge the end state.
 */

export const ACCOUNTS = ['acc-0', 'acc-1', 'acc-2'] as const;
export const CUSTOMERS = ['cust-0', 'cust-1'] as const;
export const SKUS = ['sku-a', 'sku-b'] as const;
export const PROJECTIONS = [
  'order_summary',
  'account_balance',
  'inventory_level',
  'transfer_summary',
] as const;

export interface OrderLineSpec {
  sku: string;
  quantity: number;
  unitPrice: number;
}

export interface OrderBody {
  customerId: string;
  paymentAccountId: string;
  items: OrderLineSpec[];
  shippingAddress: {
    name: string;
    line1: string;
    city: string;
    postalCode: string;
    country: string;
  };
}

/**
 * The personal data an order carries, unique per order so a leak names its order. Each value
 * ends in "#": no order's value is a prefix of another's ("o1#" is not inside "o10#").
 */
export function addressFor(key: string, country: string): OrderBody['shippingAddress'] {
  return {
    name: `Name ${key}#`,
    line1: `Line ${key}#`,
    city: `City ${key}#`,
    postalCode: `PC-${key}#`,
    country,
  };
}

export const plaintextOf = (address: OrderBody['shippingAddress']): string[] => [
  address.name,
  address.line1,
  address.city,
  address.postalCode,
];

export interface ModelOrder {
  key: string;
  orderId: string;
  /** The body of the request that placed it (the first attempt, even when that failed). */
  body: OrderBody;
  /** Index of the command that placed it (erasure ordering). */
  placedAt: number;
  /** A 2xx answer was stored under its key (a retry replays it). */
  answered: boolean;
  /** The API accepted a cancel (200): the order must end CANCELLED. */
  cancelAccepted: boolean;
  /** The API refused a cancel because the payment was taken: the order must end COMPLETED. */
  cancelRefusedAfterPivot: boolean;
  temporalCancelled: boolean;
  terminated: boolean;
}

export interface ModelTransfer {
  key: string;
  transferId: string;
  fromAccountId: string;
  toAccountId: string;
  amount: number;
  terminated: boolean;
}

export interface Model {
  step: number;
  openAccounts: Set<string>;
  deposited: number;
  restocked: Record<string, number>;
  orders: ModelOrder[];
  transfers: ModelTransfer[];
  /** Customer id → index of the command that erased them (the last erasure). */
  erasedAt: Map<string, number>;
  /** What the API answered that contradicts what it should have (checked in invariants). */
  apiViolations: string[];
  /** Retries that must converge on the first attempt's answer. */
  keys: Set<string>;
}

export function initialModel(): Model {
  return {
    step: 0,
    openAccounts: new Set(),
    deposited: 0,
    restocked: {},
    orders: [],
    transfers: [],
    erasedAt: new Map(),
    apiViolations: [],
    keys: new Set(),
  };
}

/** The principal every request runs as (no API keys configured): it scopes idempotency keys. */
const PRINCIPAL = 'anonymous';

/** The order id the API derives from an Idempotency-Key (also when the request failed). */
export const orderIdForKey = (key: string) =>
  deterministicId('order', `${PRINCIPAL} POST /orders ${key}`);
export const transferIdForKey = (key: string) =>
  deterministicId('transfer', `${PRINCIPAL} POST /transfers ${key}`);

export const orderTotal = (body: OrderBody) =>
  body.items.reduce((sum, line) => sum + line.quantity * line.unitPrice, 0);
