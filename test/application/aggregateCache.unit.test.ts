import { AggregateCache, MAX_REMEMBERED_COMMANDS } from '../../src/application/aggregateCache';

const entry = (version: number, commands = 0) => ({
  state: { version },
  version,
  snapshotVersion: 0,
  commands: new Map(Array.from({ length: commands }, (_, i) => [`c${i}`, i + 1] as const)),
});

describe('aggregate cache', () => {
  it('forgets the least recently used stream beyond its capacity', () => {
    const cache = new AggregateCache(2);
    cache.set('a', entry(1));
    cache.set('b', entry(1));
    cache.get('a'); // a is now more recent than b
    cache.set('c', entry(1));
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')?.version).toBe(1);
    expect(cache.get('c')?.version).toBe(1);
    expect(cache.size).toBe(2);
  });

  it('replaces an entry and forgets on request', () => {
    const cache = new AggregateCache(10);
    cache.set('a', entry(1));
    cache.set('a', entry(2));
    expect(cache.get('a')?.version).toBe(2);
    cache.forget('a');
    expect(cache.get('a')).toBeUndefined();
  });

  it('remembers nothing with capacity 0', () => {
    const cache = new AggregateCache(0);
    cache.set('a', entry(1));
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('does not remember a stream with too many commands since its snapshot', () => {
    const cache = new AggregateCache(10);
    cache.set('long', entry(1, MAX_REMEMBERED_COMMANDS + 1));
    expect(cache.get('long')).toBeUndefined();
    cache.set('ok', entry(1, MAX_REMEMBERED_COMMANDS));
    expect(cache.get('ok')).toBeDefined();
  });
});
