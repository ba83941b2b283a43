import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { DOMAIN_EVENT_SCHEMAS } from '../../src/application/eventStore';
import { ConfigError, loadConfig } from '../../src/config';
import { accountDecider } from '../../src/domain/account';
import { COMPONENTS } from '../../src/system/components';
import { createSystem } from '../../src/system/createSystem';
import { PROCESS_ROLES } from '../../src/system/roles';
import { requireSettings, startProcess } from '../../src/system/startProcess';
import { TEST_TEMPORAL_ADDRESS } from '../support/infrastructure';
import { uniqueTaskQueue } from '../support/temporal';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

const logger = pino({ level: 'silent' });

describe('the composition root', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('system');
  });
  afterAll(() => db.drop());

  const config = (env: Record<string, string> = {}) => ({
    ...loadConfig({ LOG_LEVEL: 'silent', METRICS_PORT: '0', ...env }),
    DATABASE_URL: db.url,
  });

  it('builds the domain store with metrics hooks, and the command handler on it', async () => {
    const system = createSystem(config(), { applicationName: 'test-system', logger });
    try {
      expect(system.eventStore.schemas).toBe(DOMAIN_EVENT_SCHEMAS);
      expect(system.eventStore.upcasters).toBe(DOMAIN_EVENT_SCHEMAS.upcasters);
      expect(system.eventStore.personalData).toBeDefined();
      const accountId = `sys-${randomUUID()}`;
      await system.commands.handle(
        accountDecider,
        accountId,
        {
          type: 'OpenAccount',
          data: { accountId, ownerId: 'o' },
          metadata: { now: new Date().toISOString() },
        },
        { commandId: `open/${accountId}` },
      );
      // The append went through the metrics hook…
      const appended = await system.metrics.appendedEvents.get();
      expect(appended.values).toEqual([
        expect.objectContaining({ labels: { stream_type: 'account' }, value: 1 }),
      ]);
      // …and the inline projector (the default) made it readable at once.
      const row = await system.readModels.getAccountBalance(system.pool, accountId);
      expect(row).toMatchObject({ version: 1 });
    } finally {
      await system.close();
    }
  });

  it('closes what was registered last first, then the Temporal client, the pool last, once', async () => {
    const system = createSystem(config({ TEMPORAL_ADDRESS: process.env[TEST_TEMPORAL_ADDRESS]! }), {
      applicationName: 'test-system',
      logger,
    });
    const order: string[] = [];
    system.onClose('first', async () => {
      // Registered before the client connected, stopped while it still answers.
      const client = await system.temporal();
      await client.workflowService.getSystemInfo({});
      order.push(`first (pool open: ${!system.pool.ended})`);
    });
    await system.temporal();
    system.onClose('second', async () => {
      order.push('second');
    });
    await Promise.all([system.close(), system.close()]);
    expect(order).toEqual(['second', 'first (pool open: true)']);
    expect(system.pool.ended).toBe(true);
  });

  it('connects Temporal only when asked, and says which setting it lacks', async () => {
    const system = createSystem(config(), { applicationName: 'test-system', logger });
    try {
      await expect(system.temporal()).rejects.toThrow(ConfigError);
      await expect(system.temporal()).rejects.toThrow(/TEMPORAL_ADDRESS/);
    } finally {
      await system.close();
    }
  });

  it('a role names every setting it lacks; every component it lists exists', () => {
    const bare = loadConfig({});
    expect(() => requireSettings('api', bare)).toThrow(
      /npm run start:api needs these settings:\n {2}DATABASE_URL .*\n {2}TEMPORAL_ADDRESS/,
    );
    expect(() => requireSettings('projector', bare)).toThrow(/DATABASE_URL/);
    expect(() => requireSettings('projector', bare)).not.toThrow(/TEMPORAL_ADDRESS/);
    for (const role of Object.values(PROCESS_ROLES)) {
      for (const name of role.components) expect(COMPONENTS[name]).toBeDefined();
    }
  });

  it('the projector role runs the projections and stops them before its pool', async () => {
    const running = await startProcess('projector', config(), { logger });
    try {
      const runner = await running.system.pool.query<{ n: string }>(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'sagaflow-projector'",
      );
      // One owner connection per projection plus the LISTEN one, at least.
      expect(Number(runner.rows[0]!.n)).toBeGreaterThan(1);
    } finally {
      await running.stop();
    }
    expect(running.system.pool.ended).toBe(true);
  });

  it('the worker role opens the merchant account, runs the worker and its reconcilers', async () => {
    const merchant = `merchant-${randomUUID()}`;
    const running = await startProcess(
      'worker',
      config({
        TEMPORAL_ADDRESS: process.env[TEST_TEMPORAL_ADDRESS]!,
        TEMPORAL_TASK_QUEUE: uniqueTaskQueue('system-worker'),
        MERCHANT_ACCOUNT_ID: merchant,
      }),
      { logger },
    );
    let stopped = false;
    void running.ended.then(() => (stopped = true));
    try {
      const [opened] = await db.eventStore.readStream(`account-${merchant}`);
      expect(opened?.type).toBe('AccountOpened');
      expect(stopped).toBe(false);
    } finally {
      await running.stop();
    }
    // A worker that stops ends the process's wait.
    await running.ended;
    expect(running.system.pool.ended).toBe(true);
  }, 120_000);
});
