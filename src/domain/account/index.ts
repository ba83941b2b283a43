import type { Decider } from '../decider';
import {
  ACCOUNT_EVENT_SCHEMA_VERSIONS,
  ACCOUNT_STREAM_TYPE,
  accountStreamId,
  type AccountEvent,
  type AccountState,
  accountEvolver,
  DEFAULT_REFERENCE_WINDOW,
  initialAccountState,
} from './account';
import { type AccountCommand, decideAccount } from './businessLogic';

export * from './account';
export * from './businessLogic';

/**
 * The account decider. `referenceWindow` is for tests that need a small one; a deployment
 * keeps the default (see DEFAULT_REFERENCE_WINDOW).
 */
export function createAccountDecider(
  options: { referenceWindow?: number } = {},
): Decider<AccountState, AccountCommand, AccountEvent> {
  return {
    streamType: ACCOUNT_STREAM_TYPE,
    streamId: accountStreamId,
    initialState: initialAccountState,
    evolve: accountEvolver(options.referenceWindow ?? DEFAULT_REFERENCE_WINDOW),
    decide: decideAccount,
    // 2: a bounded recentReferences replaced the ever-growing appliedReferences. 3: statuses
    // are spelled NONE/OPEN/FROZEN (were none/open/frozen). Snapshots of an older version are
    // ignored (the stream replays once and is snapshotted again at once).
    snapshot: { every: 100, stateSchemaVersion: 3 },
    eventSchemaVersions: ACCOUNT_EVENT_SCHEMA_VERSIONS,
  };
}

export const accountDecider = createAccountDecider();
