import fs from 'node:fs';
import path from 'node:path';
import { Worker, type ReplayResult, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { bundleWorkflows } from '../support/temporal';
import { historyFromJson } from './historyJson';

/**
 * Replays every recorded saga history (test/histories, written by `npm run record-histories`)
 * against the current workflow code. A change to workflows/ that would break sagas already
 * running in production (a reordered step, a new activity without `patched()`) fails here.
 */
const HISTORIES_DIR = path.resolve(__dirname, '../histories');
const REORDERED_WORKFLOWS = path.resolve(__dirname, 'fixtures/reorderedWorkflows.ts');

/** The saga paths scripts/recordHistories.ts records: each must have its history. */
const EXPECTED = [
  'orderFulfillment-completed',
  'orderFulfillment-out-of-stock',
  'orderFulfillment-insufficient-funds',
  'orderFulfillment-unserved-destination',
  'orderFulfillment-approval-given',
  'orderFulfillment-approval-timed-out',
  'orderFulfillment-cancelled-by-signal',
  'orderFulfillment-compensation-failed-then-retried',
  'orderFulfillment-compensation-early-retry-signal',
  'moneyTransfer-completed',
  'moneyTransfer-insufficient-funds',
  'moneyTransfer-frozen-destination',
  'moneyTransfer-refund-parked-then-retried',
  'orderFulfillment-forward-step-parked-then-retried',
  'orderFulfillment-temporal-cancel-before-pivot',
  'orderFulfillment-temporal-cancel-after-pivot',
  'moneyTransfer-temporal-cancel-before-credit',
  'moneyTransfer-temporal-cancel-during-credit',
  'orderFulfillment-delivered',
  'orderFulfillment-delivered-before-wait',
  'orderFulfillment-delivery-overdue-then-delivered',
  'orderFulfillment-completed-on-local-activities',
  'orderFulfillment-out-of-stock-on-local-activities',
  'moneyTransfer-completed-on-local-activities',
  'moneyTransfer-frozen-destination-on-local-activities',
];

/**
 * Recorded on the workflow code before `temporal-cancel-as-request` (commit 92efa3e), with a
 * cancellation requested from Temporal: the run's steps were cancelled and it ended
 * Cancelled. Only the patch guard lets them replay (without it: nondeterminism on
 * ActivityTaskCancelRequested / WorkflowExecutionCanceled), as a saga caught mid-way at the
 * deploy would.
 */
const RECORDED_ON_OLD_CODE = [
  'orderFulfillment-temporal-cancel-before-pivot.before-temporal-cancel-as-request',
  'orderFulfillment-temporal-cancel-after-pivot.before-temporal-cancel-as-request',
];

/** Paths recorded before a patch, kept while sagas started on the older code may still run. */
const BEFORE_PATCHES = [
  'before-status-milestones',
  'before-temporal-cancel-as-request',
  'before-retry-compensation-only-when-parked',
];

/** The paths in which Temporal was asked to cancel the saga: their history must say so. */
const TEMPORAL_CANCEL_PATHS = EXPECTED.filter((name) => name.includes('temporal-cancel'));

interface RecordedHistory {
  file: string;
  workflowId: string;
  history: ReturnType<typeof historyFromJson>;
}

function loadHistories(): RecordedHistory[] {
  const files = fs.existsSync(HISTORIES_DIR)
    ? fs.readdirSync(HISTORIES_DIR).filter((f) => f.endsWith('.json'))
    : [];
  return files.sort().map((file) => ({
    file: path.basename(file, '.json'),
    // The file name is the id the replay reports errors under.
    workflowId: path.basename(file, '.json'),
    history: historyFromJson(JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, file), 'utf8'))),
  }));
}

async function replay(
  workflowBundle: WorkflowBundleWithSourceMap,
  histories: RecordedHistory[],
): Promise<ReplayResult[]> {
  const results: ReplayResult[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle }, histories))
    results.push(result);
  return results;
}

const describeError = (error: unknown) =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

describe('replaying recorded saga histories', () => {
  const histories = loadHistories();
  let bundle: WorkflowBundleWithSourceMap;
  beforeAll(async () => {
    bundle = await bundleWorkflows();
  });

  it('has a recorded history for every saga path', () => {
    expect(histories.length).toBeGreaterThan(0);
    expect(histories.map((h) => h.file)).toEqual(
      expect.arrayContaining([...EXPECTED, ...RECORDED_ON_OLD_CODE]),
    );
  });

  it('keeps the histories recorded before each open patch', () => {
    for (const patch of BEFORE_PATCHES) {
      expect(histories.filter((h) => h.file.endsWith(`.${patch}`)).length).toBeGreaterThan(0);
    }
  });

  it('records the cancellation request in every temporal-cancel path (and no cancelled step)', () => {
    for (const name of TEMPORAL_CANCEL_PATHS) {
      const events = histories.find((h) => h.file === name)?.history.events ?? [];
      const cancelRequests = events.filter(
        (e) => e.workflowExecutionCancelRequestedEventAttributes,
      );
      const cancelledSteps = events.filter((e) => e.activityTaskCancelRequestedEventAttributes);
      expect({
        name,
        cancelRequests: cancelRequests.length,
        cancelledSteps: cancelledSteps.length,
      }).toEqual({
        name,
        cancelRequests: 1,
        cancelledSteps: 0,
      });
    }
  });

  it('records the delivery paths as named: a duplicate confirmation, an early one, an overdue one', () => {
    const shape = (name: string) => {
      const events = histories.find((h) => h.file === name)?.history.events ?? [];
      const index = (attribute: keyof (typeof events)[number]) =>
        events.findIndex((e) => e[attribute]);
      return {
        signals: events.filter(
          (e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'shipmentDelivered',
        ).length,
        signalBeforeFirstActivity:
          index('workflowExecutionSignaledEventAttributes') <
          index('activityTaskScheduledEventAttributes'),
        timerFired: index('timerFiredEventAttributes') >= 0,
      };
    };
    expect(shape('orderFulfillment-delivered')).toEqual({
      signals: 2,
      signalBeforeFirstActivity: false,
      timerFired: false,
    });
    expect(shape('orderFulfillment-delivered-before-wait')).toMatchObject({
      signals: 1,
      signalBeforeFirstActivity: true,
    });
    expect(shape('orderFulfillment-delivery-overdue-then-delivered')).toEqual({
      signals: 1,
      signalBeforeFirstActivity: false,
      timerFired: true,
    });
  });

  it('records the local-activity paths with markers and no activity task', () => {
    for (const name of EXPECTED.filter((file) => file.endsWith('-on-local-activities'))) {
      const events = histories.find((h) => h.file === name)?.history.events ?? [];
      const markers = events.filter(
        (e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity',
      );
      const activityTasks = events.filter((e) => e.activityTaskScheduledEventAttributes);
      expect({ name, local: markers.length > 0, activityTasks: activityTasks.length }).toEqual({
        name,
        local: true,
        activityTasks: 0,
      });
    }
  });

  it('replays every recorded history against the current workflow code', async () => {
    expect(histories.length).toBeGreaterThan(0); // replaying nothing proves nothing
    const results = await replay(bundle, histories);
    expect(results.map((r) => r.workflowId).sort()).toEqual(histories.map((h) => h.file).sort());
    const failures = results
      .filter((r) => r.error !== undefined)
      .map((r) => `${r.workflowId}: ${describeError(r.error)}`);
    expect(failures).toEqual([]);
  });

  it('detects a workflow change that breaks determinism (so the test above can fail)', async () => {
    const completed = histories.find((h) => h.file === 'orderFulfillment-completed');
    expect(completed).toBeDefined();
    const reordered = await bundleWorkflows(REORDERED_WORKFLOWS);
    const [result, ...rest] = await replay(reordered, [completed!]);
    expect(rest).toEqual([]);
    expect(result?.error).toBeDefined();
    // Compare names, not classes: instanceof fails across jest's module registries.
    expect((result!.error as Error).name).toBe('DeterminismViolationError');
    expect((result!.error as Error).message).toMatch(/nondetermin/i);
  });
});
