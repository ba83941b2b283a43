import type { EventStore } from '../../src/eventstore';
import { deterministicId } from '../../src/eventstore/eventIds';

/**
 * Appends an order's OrderPlaced and OrderCompleted straight to the store (no saga): what the
 * relay tests and the integration bench need in bulk, two contracts per order.
 */
export async function appendCompletedOrder(store: EventStore, orderId: string): Promise<void> {
  const streamId = `order-${orderId}`;
  const metadata = { correlation_id: `corr-${orderId}`, causation_id: `cmd-${orderId}` };
  await store.append(
    streamId,
    [
      {
        eventId: deterministicId('test-order', orderId, 'placed'),
        type: 'OrderPlaced',
        schemaVersion: 2,
        data: {
          orderId,
          customerId: `c-${orderId}`,
          paymentAccountId: 'acc',
          items: [{ sku: 'sku-1', quantity: 1, unitPrice: 250, currency: 'EUR' }],
          total: 250,
          shippingAddress: { name: 'A', line1: 'B', city: 'C', postalCode: 'D', country: 'GB' },
          placedAt: new Date().toISOString(),
        },
      },
    ],
    { expectedVersion: 'no_stream', metadata },
  );
  await store.append(
    streamId,
    [
      {
        eventId: deterministicId('test-order', orderId, 'completed'),
        type: 'OrderCompleted',
        data: { orderId },
      },
    ],
    { expectedVersion: 1, metadata },
  );
}
