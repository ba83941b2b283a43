import type { Decider } from '../decider';
import {
  ACCOUNT_EVENT_SCHEMA_VERSIONS,
  ACCOUNT_STREAM_TYPE,
  type AccountEvent,
  type AccountState,
  evolveAccount,
  initialAccountState,
} from './account';
import { type AccountCommand, decideAccount } from './businessLogic';

export * from './account';
export * from './businessLogic';

export const accountDecider: Decider<AccountState, AccountCommand, AccountEvent> = {
  streamType: ACCOUNT_STREAM_TYPE,
  streamId: (accountId) => `${ACCOUNT_STREAM_TYPE}-${accountId}`,
  initialState: initialAccountState,
  evolve: evolveAccount,
  decide: decideAccount,
  snapshot: { every: 100, stateSchemaVersion: 1 },
  eventSchemaVersions: ACCOUNT_EVENT_SCHEMA_VERSIONS,
};
