/** One saga the harness started, with the terminal state Temporal reported. */
export interface SagaRecord {
  kind: 'order' | 'transfer';
  key: string;
  id: string;
  sagaId: string;
  /** Order total or transfer amount. */
  amount: number;
  lines?: Array<{ sku: string; quantity: number }>;
  big?: boolean;
  finalStatus?: string;
  finalReason?: string | null;
}

const ORDER_TERMINAL = new Set(['COMPLETED', 'CANCELLED', 'COMPENSATION_FAILED']);
const TRANSFER_TERMINAL = new Set(['COMPLETED', 'FAILED', 'COMPENSATED', 'COMPENSATION_FAILED']);
export const isTerminal = (kind: SagaRecord['kind'], status: string | undefined) =>
  status !== undefined && (kind === 'order' ? ORDER_TERMINAL : TRANSFER_TERMINAL).has(status);
