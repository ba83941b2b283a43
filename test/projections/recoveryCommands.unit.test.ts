import {
  parseInstant,
  rebuildRequest,
  replayRequest,
} from '../../src/projections/recoveryCommands';
import { ReplayRefusedError } from '../../src/projections/replayRefused';

/** The CLI's partial-recovery arguments, checked before any connection is opened. */
describe('partial-recovery arguments', () => {
  it('reads ISO 8601 instants, UTC when no offset is given', () => {
    expect(parseInstant('--to', '2026-12-01').toISOString()).toBe('2026-12-01T00:00:00.000Z');
    expect(parseInstant('--to', '2026-12-01T10:30').toISOString()).toBe('2026-12-01T10:30:00.000Z');
    expect(parseInstant('--to', '2026-12-01T10:30:00.123456+02:00').toISOString()).toBe(
      '2026-12-01T08:30:00.123Z',
    );
  });

  it.each(['yesterday', '2026-13-01', '2026-02-30', '2026-12-01T25:00Z', '1700000000', ''])(
    'refuses %j as an instant',
    (text) => {
      expect(() => parseInstant('--from', text)).toThrow(
        new ReplayRefusedError(
          `--from ${JSON.stringify(text)} is no ISO 8601 instant, e.g. 2026-12-01T15:30:00Z or 2026-12-01`,
        ),
      );
    },
  );

  it('tells the kinds of rebuild apart', () => {
    expect(rebuildRequest('order_summary', [])).toBeUndefined();
    expect(rebuildRequest('order_summary', ['--stream', 'order-1, order-2,'])).toEqual({
      kind: 'streams',
      streamIds: ['order-1', 'order-2'],
    });
    expect(rebuildRequest('order_summary', ['--as-of', '2026-12-01T15:30:00.5Z'])).toEqual({
      kind: 'scratch',
      request: {
        to: new Date('2026-12-01T15:30:00.500Z'),
        into: 'order_summary_asof_20261201_153000',
        replace: false,
      },
    });
    expect(
      rebuildRequest('order_summary', ['--as-of', '2026-12-01', '--into', 'o', '--replace']),
    ).toMatchObject({ request: { into: 'o', replace: true } });
  });

  it.each([
    [['--stream', 'order-1', '--as-of', '2026-12-01'], '--stream and --as-of do not go together'],
    [['--stream', ','], '--stream needs a stream id'],
    [['--stream', 'order-1', '--into', 'x'], '--into and --replace go with --as-of, not --stream'],
    [['--into', 'x'], '--into and --replace go with --as-of'],
    [['--bogus'], "Unknown option '--bogus'"],
    [['extra'], 'Unexpected argument'],
  ])('refuses rebuild %j', (args, message) => {
    expect(() => rebuildRequest('order_summary', args)).toThrow(ReplayRefusedError);
    expect(() => rebuildRequest('order_summary', args)).toThrow(message);
  });

  it('reads replay flags', () => {
    expect(
      replayRequest([
        '--from',
        '2026-12-01',
        '--to',
        '2026-12-02',
        '--types',
        'OrderPlaced,OrderPaid',
        '--into',
        'placed',
      ]),
    ).toEqual({
      kind: 'scratch',
      request: {
        into: 'placed',
        replace: false,
        from: new Date('2026-12-01T00:00:00Z'),
        to: new Date('2026-12-02T00:00:00Z'),
        eventTypes: ['OrderPlaced', 'OrderPaid'],
      },
    });
  });

  it.each([
    [['--from', '2026-12-01'], '--into <table> is required'],
    [['--into', 'x', '--types', ','], '--types needs event types'],
    [['--into', 'x', '--to', 'soon'], '--to "soon" is no ISO 8601 instant'],
    [['--into'], "Option '--into <value>' argument missing"],
  ])('refuses replay %j', (args, message) => {
    expect(() => replayRequest(args)).toThrow(ReplayRefusedError);
    expect(() => replayRequest(args)).toThrow(message);
  });
});
