// The workflow bundle's entry point: every saga the worker runs.
export { orderFulfillment } from './orderFulfillment';
export { moneyTransfer } from './moneyTransfer';
