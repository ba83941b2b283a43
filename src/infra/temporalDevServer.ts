import fs from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { SAGA_SEARCH_ATTRIBUTES } from '../../workflows/searchAttributes';

/**
 * Finds the Temporal CLI: TEMPORAL_CLI_PATH, else `temporal` on PATH, else undefined
 * (the SDK then downloads one, which needs internet access).
 */
export function findTemporalCli(explicitPath?: string): string | undefined {
  if (explicitPath) {
    if (!fs.existsSync(explicitPath)) {
      throw new Error(`TEMPORAL_CLI_PATH: no file at ${explicitPath}`);
    }
    return explicitPath;
  }
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, process.platform === 'win32' ? 'temporal.exe' : 'temporal');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface DevServerHandle {
  address: string;
  uiUrl: string | undefined;
  /** Where the CLI came from, for the startup banner. */
  executable: string;
  env: TestWorkflowEnvironment;
  stop(): Promise<void>;
}

/** Starts `temporal server start-dev` with the saga search attributes registered. */
export async function startTemporalDevServer(options: {
  cliPath?: string;
  port?: number;
  uiPort?: number;
  ui?: boolean;
  dbFilename?: string;
  namespace?: string;
}): Promise<DevServerHandle> {
  const cli = findTemporalCli(options.cliPath);
  const ui = options.ui ?? true;
  // The CLI does not create the folder of its database file (e.g. .data when DATABASE_URL
  // is set, so no embedded Postgres created it first).
  if (options.dbFilename) fs.mkdirSync(path.dirname(options.dbFilename), { recursive: true });
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: cli ? { type: 'existing-path', path: cli } : { type: 'cached-download' },
      ...(options.port !== undefined && { port: options.port }),
      ...(ui && { ui: true, uiPort: options.uiPort ?? (options.port ?? 7233) + 1000 }),
      ...(options.dbFilename !== undefined && { dbFilename: options.dbFilename }),
      namespace: options.namespace ?? 'default',
      searchAttributes: [...SAGA_SEARCH_ATTRIBUTES],
      log: { format: 'pretty', level: 'error' },
      extraArgs: ['--sqlite-pragma', 'journal_mode=WAL', '--sqlite-pragma', 'synchronous=OFF'],
    },
  });
  const address = env.address;
  const uiPort = ui ? (options.uiPort ?? Number(address.split(':').pop()) + 1000) : undefined;
  return {
    address,
    uiUrl: uiPort ? `http://localhost:${uiPort}` : undefined,
    executable: cli ?? 'SDK download',
    env,
    stop: () => env.teardown(),
  };
}
