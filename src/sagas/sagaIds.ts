/** Workflow ids derive from the business id, so starting the same order twice attaches to one run. */
export const orderSagaId = (orderId: string) => `order-${orderId}`;
export const transferSagaId = (transferId: string) => `transfer-${transferId}`;
