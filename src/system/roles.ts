import type { Config } from '../config';
import type { ComponentName } from './components';

/** A setting a role cannot start without, with an example for the error message. */
const REQUIRED = {
  DATABASE_URL: 'DATABASE_URL (e.g. postgres://user@127.0.0.1:5432/sagaflow)',
  TEMPORAL_ADDRESS: 'TEMPORAL_ADDRESS (e.g. 127.0.0.1:7233)',
  NATS_URL: 'NATS_URL (e.g. nats://127.0.0.1:4222)',
} as const;

export type RequiredSetting = keyof typeof REQUIRED & keyof Config;

export interface ProcessRole {
  /** The npm script that runs it. */
  script: string;
  /** pg_stat_activity's application_name for its connections. */
  applicationName: string;
  needs: readonly RequiredSetting[];
  /** Applies pending migrations before anything else. */
  migrates: boolean;
  /** Projects each command's events inline (read-your-writes for the API's own requests). */
  inlineProjection: boolean;
  /** Pool size as a multiple of PG_POOL_MAX (the all-in-one process serves every role). */
  poolFactor: number;
  /** Started in this order, stopped in the reverse. */
  components: readonly ComponentName[];
}

const WORKER_COMPONENTS = [
  'merchant-account',
  'saga-worker',
  'orphaned-order-reconciler',
  'abandoned-saga-reconciler',
] as const satisfies readonly ComponentName[];

/**
 * What each process runs: the one place to read it, or to add a process or a component.
 * Production runs api, worker and projector separately (as many of each as needed);
 * `npm start` runs all of them in one process.
 */
export const PROCESS_ROLES = {
  'all-in-one': {
    script: 'npm start',
    applicationName: 'sagaflow',
    needs: ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'NATS_URL'],
    migrates: true,
    // One command handler for the API and the worker: saga steps are projected inline too.
    inlineProjection: true,
    poolFactor: 2,
    components: [...WORKER_COMPONENTS, 'projector', 'archiver', 'relay', 'bus-consumers', 'api'],
  },
  api: {
    script: 'npm run start:api',
    applicationName: 'sagaflow-api',
    needs: ['DATABASE_URL', 'TEMPORAL_ADDRESS'],
    migrates: false,
    inlineProjection: true,
    poolFactor: 1,
    components: ['api'],
  },
  worker: {
    script: 'npm run start:worker',
    applicationName: 'sagaflow-worker',
    needs: ['DATABASE_URL', 'TEMPORAL_ADDRESS'],
    migrates: true,
    // Nobody reads through a worker: its steps reach the read models through the projector.
    inlineProjection: false,
    poolFactor: 1,
    components: WORKER_COMPONENTS,
  },
  projector: {
    script: 'npm run start:projector',
    applicationName: 'sagaflow-projector',
    needs: ['DATABASE_URL'],
    migrates: false,
    inlineProjection: false,
    poolFactor: 1,
    components: ['projector', 'archiver'],
  },
  relay: {
    script: 'npm run start:relay',
    applicationName: 'sagaflow-relay',
    needs: ['DATABASE_URL', 'NATS_URL'],
    migrates: false,
    inlineProjection: false,
    poolFactor: 0.5,
    components: ['relay'],
  },
  inbound: {
    script: 'npm run start:inbound',
    applicationName: 'sagaflow-inbound',
    needs: ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'NATS_URL'],
    migrates: false,
    inlineProjection: false,
    poolFactor: 0.5,
    components: ['delivery-consumer'],
  },
} as const satisfies Record<string, ProcessRole>;

export type RoleName = keyof typeof PROCESS_ROLES;

/** The settings `role` lacks, each with an example; empty when it can start. */
export function missingSettings(role: ProcessRole, config: Config): string[] {
  return role.needs.filter((setting) => !config[setting]).map((setting) => REQUIRED[setting]);
}
