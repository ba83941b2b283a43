import type { RecordedEvent } from '../eventstore';
import type { ContractData, ProducedContractType } from './contracts';

/**
 * The anti-corruption layer: domain events in, contracts out. One domain event maps to none,
 * one or several contracts; most domain events (the saga's intermediate steps) map to none.
 *
 * A contract often needs a fact an earlier event of the same stream recorded (who placed the
 * order that completes now). Each stream type therefore has a small fold, its `facts`, built
 * from that stream's own events only: the translation of an event depends on its stream's
 * prefix alone, so a re-translation (relay restart, HTTP feed) yields the same messages.
 *
 * Fields are picked one by one, never spread: a domain event that grows a field (a personal
 * one, see DEFAULT_PERSONAL_DATA_POLICY) does not leak into a contract.
 */

export interface Translation<T extends ProducedContractType = ProducedContractType> {
  type: T;
  /** The id in the subject (the order's, the shipment's, the SKU). */
  aggregateId: string;
  data: ContractData<T>;
}

type AnyTranslation = { [T in ProducedContractType]: Translation<T> }[ProducedContractType];

interface StreamTranslator<Facts> {
  streamType: string;
  /** Domain event types read: translated, or learned from for later ones. */
  eventTypes: readonly string[];
  initial: Facts;
  /** Facts after `event` (called for every event of `eventTypes`, in stream order). */
  learn(facts: Facts, event: RecordedEvent): Facts;
  /** Contracts for `event`, given the facts of the events before it. */
  translate(event: RecordedEvent, facts: Facts): AnyTranslation[];
}

type Data = Record<string, unknown>;
const str = (data: Data, key: string): string => {
  const value = data[key];
  if (typeof value !== 'string') throw new Error(`event data has no string ${key}`);
  return value;
};
const int = (data: Data, key: string): number => {
  const value = data[key];
  if (typeof value !== 'number') throw new Error(`event data has no number ${key}`);
  return value;
};
const at = (event: RecordedEvent): string => event.createdAt.toISOString();

/** `APPROVAL_TIMED_OUT: no approval within 1d` -> APPROVAL_TIMED_OUT; free text -> UNSPECIFIED. */
export function reasonCodeOf(reason: string): string {
  const match = /^([A-Z][A-Z0-9_]*)(?::|$)/.exec(reason.trim());
  return match?.[1] ?? 'UNSPECIFIED';
}

interface OrderFacts {
  customerId?: string;
  total?: number;
  currency?: string;
}

const order: StreamTranslator<OrderFacts> = {
  streamType: 'order',
  eventTypes: ['OrderPlaced', 'OrderCompleted', 'OrderCancelled'],
  initial: {},
  learn(facts, event) {
    if (event.type !== 'OrderPlaced') return facts;
    const data = event.data as Data;
    // Upcasting gives every line a currency, and an order is priced in one.
    const [first] = data.items as Data[];
    return {
      customerId: str(data, 'customerId'),
      total: int(data, 'total'),
      currency: str(first ?? {}, 'currency'),
    };
  },
  translate(event, facts) {
    const data = event.data as Data;
    const orderId = str(data, 'orderId');
    if (event.type === 'OrderPlaced') {
      const placed = order.learn(facts, event);
      const items = data.items as Array<Data>;
      return [
        {
          type: 'order.placed.v1',
          aggregateId: orderId,
          data: {
            orderId,
            customerId: placed.customerId!,
            total: placed.total!,
            currency: placed.currency!,
            lines: items.map((line) => ({
              sku: str(line, 'sku'),
              quantity: int(line, 'quantity'),
              unitPrice: int(line, 'unitPrice'),
            })),
            placedAt: str(data, 'placedAt'),
          },
        },
      ];
    }
    const known = requirePlaced(facts, event);
    if (event.type === 'OrderCompleted') {
      return [
        {
          type: 'order.completed.v1',
          aggregateId: orderId,
          data: { orderId, ...known, completedAt: at(event) },
        },
      ];
    }
    if (event.type === 'OrderCancelled') {
      return [
        {
          type: 'order.cancelled.v1',
          aggregateId: orderId,
          data: {
            orderId,
            customerId: known.customerId,
            reasonCode: reasonCodeOf(str(data, 'reason')),
            cancelledAt: at(event),
          },
        },
      ];
    }
    return [];
  },
};

function requirePlaced(facts: OrderFacts, event: RecordedEvent) {
  const { customerId, total, currency } = facts;
  if (customerId === undefined || total === undefined || currency === undefined)
    throw new Error(
      `${event.streamId} v${event.version} (${event.type}) has no OrderPlaced before it`,
    );
  return { customerId, total, currency };
}

/** `order-o-1/payment` -> { orderId: 'o-1', purpose: 'payment' }. */
function orderReference(reference: string): { orderId: string; purpose: string } | undefined {
  const match = /^order-(.+)\/([a-z]+)$/.exec(reference);
  return match ? { orderId: match[1]!, purpose: match[2]! } : undefined;
}

/** Only the movements of order payments are contracts; the rest of an account's life is not. */
const account: StreamTranslator<Record<string, never>> = {
  streamType: 'account',
  eventTypes: ['AccountDebited', 'AccountCredited'],
  initial: {},
  learn: (facts) => facts,
  translate(event) {
    const data = event.data as Data;
    const reference = orderReference(str(data, 'reference'));
    const accountId = str(data, 'accountId');
    const amount = int(data, 'amount');
    if (event.type === 'AccountDebited' && reference?.purpose === 'payment') {
      const { orderId } = reference;
      return [
        {
          type: 'payment.captured.v1',
          aggregateId: orderId,
          data: { orderId, accountId, amount, capturedAt: at(event) },
        },
      ];
    }
    if (event.type === 'AccountCredited' && reference?.purpose === 'refund') {
      const { orderId } = reference;
      return [
        {
          type: 'payment.refunded.v1',
          aggregateId: orderId,
          data: { orderId, accountId, amount, refundedAt: at(event) },
        },
      ];
    }
    return [];
  },
};

interface ShipmentFacts {
  orderId?: string;
}

const shipment: StreamTranslator<ShipmentFacts> = {
  streamType: 'shipment',
  eventTypes: ['ShipmentBooked', 'ShipmentDispatched'],
  initial: {},
  learn: (facts, event) =>
    event.type === 'ShipmentBooked' ? { orderId: str(event.data as Data, 'orderId') } : facts,
  translate(event, facts) {
    if (event.type !== 'ShipmentDispatched') return [];
    const shipmentId = str(event.data as Data, 'shipmentId');
    if (facts.orderId === undefined)
      throw new Error(`${event.streamId} v${event.version}: dispatched, never booked`);
    return [
      {
        type: 'shipment.dispatched.v1',
        aggregateId: shipmentId,
        data: { shipmentId, orderId: facts.orderId, dispatchedAt: at(event) },
      },
    ];
  },
};

interface TransferFacts {
  fromAccountId?: string;
  toAccountId?: string;
  amount?: number;
}

const transfer: StreamTranslator<TransferFacts> = {
  streamType: 'transfer',
  eventTypes: ['TransferRequested', 'TransferCompleted', 'TransferFailed'],
  initial: {},
  learn(facts, event) {
    if (event.type !== 'TransferRequested') return facts;
    const data = event.data as Data;
    return {
      fromAccountId: str(data, 'fromAccountId'),
      toAccountId: str(data, 'toAccountId'),
      amount: int(data, 'amount'),
    };
  },
  translate(event, facts) {
    if (event.type === 'TransferRequested') return [];
    const data = event.data as Data;
    const transferId = str(data, 'transferId');
    const { fromAccountId, toAccountId, amount } = facts;
    if (fromAccountId === undefined || toAccountId === undefined || amount === undefined)
      throw new Error(`${event.streamId} v${event.version}: no TransferRequested before it`);
    const base = { transferId, fromAccountId, toAccountId, amount };
    if (event.type === 'TransferCompleted')
      return [
        {
          type: 'transfer.completed.v1',
          aggregateId: transferId,
          data: { ...base, completedAt: at(event) },
        },
      ];
    return [
      {
        type: 'transfer.failed.v1',
        aggregateId: transferId,
        data: { ...base, reasonCode: reasonCodeOf(str(data, 'reason')), failedAt: at(event) },
      },
    ];
  },
};

interface StockFacts {
  available: number;
}

/** stock.depleted.v1 when a reservation takes the last available unit (available > 0 -> 0). */
const inventory: StreamTranslator<StockFacts> = {
  streamType: 'inventory',
  eventTypes: ['StockRestocked', 'StockReserved', 'ReservationReleased'],
  initial: { available: 0 },
  learn(facts, event) {
    const quantity = int(event.data as Data, 'quantity');
    return { available: facts.available + (event.type === 'StockReserved' ? -quantity : quantity) };
  },
  translate(event, facts) {
    if (event.type !== 'StockReserved') return [];
    const after = inventory.learn(facts, event).available;
    if (!(facts.available > 0 && after <= 0)) return [];
    const sku = str(event.data as Data, 'sku');
    return [{ type: 'stock.depleted.v1', aggregateId: sku, data: { sku, depletedAt: at(event) } }];
  },
};

/** A stream translator with its facts type hidden, so translators of all streams sit in one list. */
interface AnyStreamTranslator {
  streamType: string;
  eventTypes: readonly string[];
  initial: unknown;
  learn(facts: unknown, event: RecordedEvent): unknown;
  translate(event: RecordedEvent, facts: unknown): AnyTranslation[];
}

/** Facts only ever come from the same translator's `initial` and `learn` (see Translator). */
const erase = <Facts>(t: StreamTranslator<Facts>): AnyStreamTranslator => ({
  streamType: t.streamType,
  eventTypes: t.eventTypes,
  initial: t.initial,
  learn: (facts, event) => t.learn(facts as Facts, event),
  translate: (event, facts) => t.translate(event, facts as Facts),
});

const TRANSLATORS: readonly AnyStreamTranslator[] = [
  erase(order),
  erase(account),
  erase(shipment),
  erase(transfer),
  erase(inventory),
];

const byStreamType = new Map(TRANSLATORS.map((t) => [t.streamType, t]));

/** Every domain event type the translation reads (what a reader asks readAll for). */
export const TRANSLATED_EVENT_TYPES: readonly string[] = [
  ...new Set(TRANSLATORS.flatMap((t) => t.eventTypes)),
];

/** Reads a stream's earlier events (up to and including `toVersion`), sealed. */
export type StreamPrefixReader = (streamId: string, toVersion: number) => Promise<RecordedEvent[]>;

/**
 * Streams whose facts a translator keeps: about 200 bytes each. A stream drops out when
 * this many others were seen since, and costs one read of its prefix when it comes back.
 */
export const DEFAULT_FACTS_CACHE_SIZE = 100_000;

interface CachedFacts {
  version: number;
  facts: unknown;
}

/**
 * Translates events in the store's catch-up order, keeping the facts of recently seen
 * streams (an LRU of `cacheSize` streams). A stream not in the cache (the first event after a
 * restart, or an evicted one) has its facts folded from its earlier events.
 */
export class Translator {
  private readonly cache = new Map<string, CachedFacts>();

  constructor(
    private readonly readPrefix: StreamPrefixReader,
    private readonly cacheSize = DEFAULT_FACTS_CACHE_SIZE,
    /** Stream prefixes read at once when a page needs several (see translatePage). */
    private readonly prefetchConcurrency = 8,
  ) {}

  /**
   * A page of events in catch-up order: the facts of the streams the cache does not hold are
   * read first, several at once (after a restart most streams miss: one round trip each would
   * set the pace), then the events are translated in order. `readPrefix` replaces the
   * constructor's reader for this page (the HTTP feed reads prefixes where it read the page).
   */
  async translatePage(
    events: readonly RecordedEvent[],
    readPrefix = this.readPrefix,
  ): Promise<Translation[][]> {
    const missing = new Map<string, RecordedEvent>();
    for (const event of events) {
      const translator = byStreamType.get(event.streamType);
      if (!translator || missing.has(event.streamId) || event.version === 1) continue;
      const cached = this.cache.get(event.streamId);
      if (!cached || cached.version >= event.version) missing.set(event.streamId, event);
    }
    const queue = [...missing.values()];
    const worker = async () => {
      for (let event = queue.shift(); event; event = queue.shift()) {
        const translator = byStreamType.get(event.streamType)!;
        const facts = await this.foldPrefix(translator, event, readPrefix);
        this.remember(event.streamId, { version: event.version - 1, facts });
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(this.prefetchConcurrency, queue.length) }, worker),
    );
    const out: Translation[][] = [];
    for (const event of events) out.push(await this.translate(event, readPrefix));
    return out;
  }

  async translate(event: RecordedEvent, readPrefix = this.readPrefix): Promise<Translation[]> {
    const translator = byStreamType.get(event.streamType);
    if (!translator || !translator.eventTypes.includes(event.type)) return [];
    const before = await this.factsBefore(translator, event, readPrefix);
    const translations = translator.translate(event, before);
    this.remember(event.streamId, {
      version: event.version,
      facts: translator.learn(before, event),
    });
    return translations;
  }

  private async factsBefore(
    translator: AnyStreamTranslator,
    event: RecordedEvent,
    readPrefix: StreamPrefixReader,
  ): Promise<unknown> {
    const cached = this.cache.get(event.streamId);
    if (cached && cached.version < event.version) return cached.facts;
    if (event.version === 1) return translator.initial;
    return this.foldPrefix(translator, event, readPrefix);
  }

  private async foldPrefix(
    translator: AnyStreamTranslator,
    event: RecordedEvent,
    readPrefix: StreamPrefixReader,
  ): Promise<unknown> {
    const earlier = await readPrefix(event.streamId, event.version - 1);
    return earlier
      .filter((e) => translator.eventTypes.includes(e.type))
      .reduce((facts, e) => translator.learn(facts, e), translator.initial);
  }

  private remember(streamId: string, entry: CachedFacts): void {
    this.cache.delete(streamId);
    this.cache.set(streamId, entry);
    if (this.cache.size > this.cacheSize) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
  }
}
