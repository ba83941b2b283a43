import { defineSearchAttributeKey } from '@temporalio/common';

/** Search attributes operators filter on in the Temporal Web UI, e.g. SagaStatus="AWAITING_APPROVAL". */
export const SAGA_TYPE = defineSearchAttributeKey('SagaType', 'KEYWORD');
export const SAGA_STATUS = defineSearchAttributeKey('SagaStatus', 'KEYWORD');
export const CUSTOMER_ID = defineSearchAttributeKey('CustomerId', 'KEYWORD');
export const CORRELATION_ID = defineSearchAttributeKey('CorrelationId', 'KEYWORD');

export const SAGA_SEARCH_ATTRIBUTES = [
  SAGA_TYPE,
  SAGA_STATUS,
  CUSTOMER_ID,
  CORRELATION_ID,
] as const;
