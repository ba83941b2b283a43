import { CancellationScope, isCancellation, patched } from '@temporalio/workflow';

/**
 * Sagas started before this patch let a cancellation requested from Temporal cancel the
 * running step and everything after it; replaying them must do the same.
 */
export const TEMPORAL_CANCEL_AS_REQUEST_PATCH = 'temporal-cancel-as-request';

/** The reason a saga records when Temporal (UI, CLI, `handle.cancel()`) asked it to stop. */
export const TEMPORAL_CANCEL_REASON = 'TEMPORAL_CANCELLATION requested from Temporal';

/**
 * Runs a saga's body so that a cancellation requested from Temporal (the UI's "Request
 * Cancellation", `temporal workflow cancel`, `handle.cancel()`) never cancels a step:
 * it becomes a request the saga handles at its own checkpoints, like the cancel signal
 * (undo before the pivot, refuse after it). A step that is running when it comes finishes,
 * so no effect is left half-recorded and a compensation never runs before the effect it
 * undoes commits. (The activities do not heartbeat, so they could not be told anyway.)
 *
 * @param onCancelRequested called once, in the workflow, when the cancellation comes.
 */
export function shieldedFromTemporalCancel<T>(
  onCancelRequested: () => void,
  body: () => Promise<T>,
): Promise<T> {
  if (!patched(TEMPORAL_CANCEL_AS_REQUEST_PATCH)) return body();
  CancellationScope.current().cancelRequested.catch((error: unknown) => {
    if (isCancellation(error)) onCancelRequested();
  });
  return CancellationScope.nonCancellable(body);
}
