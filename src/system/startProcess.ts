import { ConfigError, type Config } from '../config';
import { migrate } from '../eventstore';
import type { Logger } from '../logger';
import { COMPONENTS, type Component } from './components';
import { createSystem, type System, type SystemConfig } from './createSystem';
import { missingSettings, PROCESS_ROLES, type RoleName } from './roles';

export interface RunningProcess {
  system: System;
  /** What the components said where to reach them, for a banner. */
  banner: string[];
  /** Settles when a component ended on its own (rejects when it failed): time to stop. */
  ended: Promise<unknown>;
  /** Stops the components, last started first, then what the system opened. */
  stop(): Promise<void>;
}

/** The configuration with the settings `role` needs checked: a ConfigError names each missing one. */
export function requireSettings(roleName: RoleName, config: Config): SystemConfig {
  const role = PROCESS_ROLES[roleName];
  const missing = missingSettings(role, config);
  if (missing.length > 0 || !config.DATABASE_URL) {
    throw new ConfigError(`${role.script} needs these settings:\n  ${missing.join('\n  ')}`);
  }
  return { ...config, DATABASE_URL: config.DATABASE_URL };
}

/**
 * Starts the process `roleName` (./roles.ts): checks its settings, migrates if it does, builds
 * the system, starts its components in order and logs once what it runs. A component that
 * fails to start stops what started before it.
 */
export async function startProcess(
  roleName: RoleName,
  loaded: Config,
  options: { logger: Logger },
): Promise<RunningProcess> {
  const role = PROCESS_ROLES[roleName];
  const config = requireSettings(roleName, loaded);
  const { logger } = options;
  const runsWorker = (role.components as readonly string[]).includes('saga-worker');
  // /metrics appends the SDK's: this process's own Runtime, or a worker's (SDK_METRICS_URL).
  const sdkMetricsUrl =
    runsWorker && config.METRICS_PORT > 0
      ? `http://127.0.0.1:${config.METRICS_PORT}/metrics`
      : config.SDK_METRICS_URL;
  logger.info(
    {
      role: roleName,
      components: Object.fromEntries(
        role.components.map((name) => [name, COMPONENTS[name].description]),
      ),
    },
    `${roleName} process: ${role.components.join(', ')}`,
  );
  if (role.migrates) await migrate(config.DATABASE_URL);
  const system = createSystem(config, {
    applicationName: role.applicationName,
    logger,
    poolMax: Math.max(2, Math.ceil(config.PG_POOL_MAX * role.poolFactor)),
    inlineProjection: role.inlineProjection,
    ...(sdkMetricsUrl && { sdkMetricsUrl }),
  });
  const endings: Promise<unknown>[] = [];
  const banner: string[] = [];
  let stopping = false;
  try {
    for (const name of role.components) {
      const component: Component = COMPONENTS[name];
      const running = await component.start(system);
      if (!running) continue;
      system.onClose(name, () => running.stop());
      // Last started first: the API, the front door, heads the banner.
      banner.unshift(...(running.banner ?? []));
      if (running.done) {
        endings.push(
          running.done.then(
            () => {
              if (!stopping) logger.warn(`${name} stopped on its own`);
            },
            (error: unknown) => {
              if (!stopping) logger.error({ err: error }, `${name} failed`);
              throw error;
            },
          ),
        );
      }
    }
  } catch (error) {
    await system.close();
    throw error;
  }
  return {
    system,
    banner,
    // Never settles when nothing can end on its own.
    ended: Promise.race([...endings, new Promise(() => undefined)]),
    stop: () => {
      stopping = true;
      return system.close();
    },
  };
}
