import { ConfigError, loadConfig } from '../../src/config';

describe('configuration', () => {
  it('applies defaults for everything optional', () => {
    const config = loadConfig({});
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.TEMPORAL_ADDRESS).toBeUndefined();
    expect(config).toMatchObject({
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TASK_QUEUE: 'sagaflow',
      PORT: 3000,
      LOG_LEVEL: 'info',
    });
  });

  it('reads and coerces values', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://u@db:5432/app',
      TEMPORAL_ADDRESS: 'temporal:7233',
      PORT: '8080',
      UNSERVED_COUNTRIES: 'KP, ir ,',
    });
    expect(config.PORT).toBe(8080);
    expect(config.UNSERVED_COUNTRIES).toEqual(['KP', 'ir']);
  });

  it.each([
    ['DATABASE_URL', 'mysql://x'],
    ['TEMPORAL_ADDRESS', 'no-port'],
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['LOG_LEVEL', 'loud'],
    ['APPROVAL_THRESHOLD', '-1'],
    ['SDK_METRICS_URL', 'not a url'],
    ['AGGREGATE_CACHE_SIZE', '-1'],
    ['SNAPSHOT_EVERY', '0'],
    ['DELIVERY_TIMEOUT', 'two days'],
    ['DELIVERY_CONFIRMATION', 'maybe'],
    ['CARRIER_SIMULATOR', 'yes'],
  ])('fails at start naming %s when it is %p', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`\\b${name}\\b`));
  });

  it('waits for the carrier by default, 48h before flagging, with the simulator on', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      DELIVERY_CONFIRMATION: 'carrier',
      DELIVERY_TIMEOUT: '48h',
      CARRIER_SIMULATOR: 'on',
    });
    expect(loadConfig({ DELIVERY_TIMEOUT: '90s' }).DELIVERY_TIMEOUT).toBe('90s');
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ DATABASE_URL: '' }).DATABASE_URL).toBeUndefined();
  });

  it('takes an optional read replica URL and names it when it is malformed', () => {
    expect(loadConfig({}).DATABASE_READ_URL).toBeUndefined();
    expect(loadConfig({ DATABASE_READ_URL: '' }).DATABASE_READ_URL).toBeUndefined();
    expect(loadConfig({ DATABASE_READ_URL: 'postgres://u@replica/app' })).toMatchObject({
      DATABASE_READ_URL: 'postgres://u@replica/app',
      REPLICA_CHECK_INTERVAL_MS: 5000,
    });
    expect(() => loadConfig({ DATABASE_READ_URL: 'mysql://replica' })).toThrow(
      /DATABASE_READ_URL: must be a URL starting with postgres:/,
    );
  });
});
