import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';

/** A business reason carried by a rejected step, e.g. "INSUFFICIENT_FUNDS: balance 10 < 25". */
export function businessReason(error: unknown): string | undefined {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof ApplicationFailure && cause.type === 'DomainRejection') {
    const code = (cause.details?.[0] as { code?: string } | undefined)?.code;
    return code ? `${code}: ${cause.message}` : cause.message;
  }
  return undefined;
}

/** Thrown inside the workflow to unwind on a cancel request or an approval timeout. */
export class SagaAbort extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'SagaAbort';
  }
}

/** The reason a saga records for an error that stops its way forward before the pivot. */
export function failureReason(error: unknown): string {
  if (error instanceof SagaAbort) return error.reason;
  return businessReason(error) ?? `STEP_FAILED: ${(error as Error).message}`;
}
