import { runChaos, type ChaosReport } from '../../scripts/chaos/harness';
import { summarize } from '../../scripts/chaos/main';
import { TEST_DATABASE_URL, TEST_TEMPORAL_ADDRESS } from '../support/infrastructure';

/**
 * The chaos harness, small: ~50 sagas through the real API, projector, two fault-injecting
 * worker processes, the outbox relay and the loyalty service (on a nats-server of the run's
 * own), with one SIGKILL + restart each of a worker, the relay and loyalty, one round of
 * pg_terminate_backend, a few zombies and some concurrent duplicate requests.
 * Every invariant of the full `npm run chaos` must hold.
 */
describe('chaos (short)', () => {
  let report: ChaosReport;

  beforeAll(async () => {
    report = await runChaos({
      sagas: 50,
      concurrency: 8,
      workers: 2,
      duplicateShare: 0.2,
      unservedShare: 0.1,
      zombies: 6,
      workerKills: 1,
      relayKills: 1,
      loyaltyKills: 1,
      compensationKill: false,
      connectionKills: 1,
      settleTimeoutMs: 100_000,
      seed: 7,
      databaseUrl: process.env[TEST_DATABASE_URL]!,
      temporalAddress: process.env[TEST_TEMPORAL_ADDRESS]!,
      log: () => undefined,
    });
    // Shown only when something fails, to explain it.
    if (!report.ok) console.log(summarize(report));
  }, 240_000);

  it('ran without a harness error and injected the planned faults', () => {
    expect(report.error).toBeUndefined();
    expect(report.faults).toMatchObject({
      workerKills: 1,
      relayKills: 1,
      loyaltyKills: 1,
      connectionKillRounds: 1,
      zombiesArmed: 6,
    });
    expect(report.figures['keys sent concurrently (duplicates)']).toBeGreaterThan(0);
  });

  it('holds every invariant', () => {
    // Including "no process died on its own": a process that crashes under these faults
    // (as the API once did on pg_terminate_backend) is a bug, not noise.
    const failed = report.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
    expect(failed).toEqual([]);
    expect(report.checks.length).toBeGreaterThanOrEqual(18);
  });

  it('every saga ended, none parked', () => {
    expect(report.figures['sagas started']).toBe(50);
    expect(report.figures['sagas not terminal']).toBe(0);
    expect(report.figures['sagas COMPENSATION_FAILED']).toBe(0);
  });

  it('the bus carried every integration event once, and loyalty applied each once', () => {
    // Guards against a vacuous pass: the checks above compare against these.
    expect(report.figures['integration messages expected']).toBeGreaterThan(50);
    expect(report.figures['integration messages in JetStream']).toBe(
      report.figures['integration messages expected'],
    );
    expect(report.figures['loyalty points implied']).toBeGreaterThan(0);
    expect(report.figures['loyalty points held']).toBe(report.figures['loyalty points implied']);
  });
});
