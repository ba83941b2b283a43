import { API_URL } from './system';

/** Just enough of the HTTP API to set the scene for the browser tests. */

export async function call<T>(method: string, urlPath: string, body?: unknown): Promise<T> {
  const response = await fetch(`${API_URL}${urlPath}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${urlPath} → ${response.status} ${text}`);
  return (text ? JSON.parse(text) : {}) as T;
}

export async function openAccount(ownerId: string, initialDeposit: number): Promise<string> {
  const { accountId } = await call<{ accountId: string }>('POST', '/accounts', {
    ownerId,
    initialDeposit,
  });
  return accountId;
}

export async function restock(sku: string, quantity: number): Promise<void> {
  await call('POST', `/inventory/${encodeURIComponent(sku)}/restock`, { quantity });
}

export async function placeOrder(order: {
  customerId: string;
  paymentAccountId: string;
  sku: string;
  quantity: number;
  unitPrice: number;
}): Promise<string> {
  const { orderId } = await call<{ orderId: string }>('POST', '/orders', {
    customerId: order.customerId,
    paymentAccountId: order.paymentAccountId,
    items: [{ sku: order.sku, quantity: order.quantity, unitPrice: order.unitPrice }],
    shippingAddress: {
      name: 'UI Tour',
      line1: '1 Browser Street',
      city: 'Headless',
      postalCode: '1000',
      country: 'DE',
    },
  });
  return orderId;
}

/** GET /orders/{id}/saga: the status query while the saga runs, its result once closed. */
export interface SagaView {
  workflowStatus: string;
  status: string;
  currentStep?: string | null;
  completedSteps?: string[];
  compensationsRun?: string[];
  failingCompensation?: string | null;
}

export const orderStatus = async (orderId: string) =>
  (await call<{ status: string }>('GET', `/orders/${orderId}`)).status;

export const orderSaga = (orderId: string) => call<SagaView>('GET', `/orders/${orderId}/saga`);

/** Polls until `read` returns something `accept` takes; fails with the last value seen. */
export async function eventually<T>(
  what: string,
  read: () => Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs = 90_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      last = await read();
      if (accept(last)) return last;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: not reached within ${timeoutMs} ms; last ${JSON.stringify(last)} ${lastError instanceof Error ? lastError.message : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
