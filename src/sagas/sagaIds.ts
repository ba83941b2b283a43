/**
 * Workflow ids derive from the business id, so starting the same order twice attaches to one
 * run. They read like the aggregate's stream id (orderStreamId, transferStreamId) but are
 * Temporal's ids, recorded in histories: each keeps its own function, and neither string
 * ever changes.
 */
export const orderSagaId = (orderId: string): string => `order-${orderId}`;
export const transferSagaId = (transferId: string): string => `transfer-${transferId}`;
