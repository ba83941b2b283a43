import { Context } from '@temporalio/activity';
import type { SagaActivities } from '../../activities';
import {
  inventoryDecider,
  type InventoryEvent,
  type InventoryItemState,
} from '../../src/domain/inventory';
import type { RecordedEvent } from '../../src/eventstore';

/**
 * Fault injection for saga activities. Each helper wraps one real activity and misbehaves
 * only for the inputs a test selects (`match`), so the other tests sharing the worker see
 * the real thing. Pass the result through `HarnessOptions.wrapActivities`.
 */

type Activity<I, O> = (input: I) => Promise<O>;
export type ActivityName = keyof SagaActivities;
export type ActivityInput<N extends ActivityName> = Parameters<SagaActivities[N]>[0];

/** The attempt number of the running activity (1 for the first). */
export const currentAttempt = (): number => Context.current().info.attempt;

import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

/** An error that looks like infrastructure (retryable), named so a test can tell it apart. */
export class InjectedFault extends Error {
  constructor(message: string) {
    super(`injected fault: ${message}`);
    this.name = 'InjectedFault';
  }
}

/** A promise a test resolves from outside: a gate an activity waits on, or a "this happened". */
export class Deferred<T = void> {
  readonly promise: Promise<T>;
  resolve!: (value: T) => void;
  settled = false;
  constructor() {
    this.promise = new Promise<T>((resolve) => {
      this.resolve = (value) => {
        this.settled = true;
        resolve(value);
      };
    });
  }
}

/** What a wrapped activity did, attempt by attempt. */
export interface FaultRecord {
  activity: string;
  attempt: number;
  phase: 'effect-applied' | 'failed-after-commit' | 'zombie-woke' | 'zombie-applied' | 'blocked';
}

export class FaultLog {
  readonly records: FaultRecord[] = [];
  add(activity: string, phase: FaultRecord['phase']): void {
    this.records.push({ activity, attempt: currentAttempt(), phase });
  }
  of(activity: string): FaultRecord[] {
    return this.records.filter((r) => r.activity === activity);
  }
}

/**
 * The reply is lost after the effect committed: the real activity runs (its append commits),
 * then the listed attempts throw anyway, so Temporal retries a step that already happened.
 */
export function failAfterCommit<I, O>(
  name: string,
  real: Activity<I, O>,
  options: { match: (input: I) => boolean; attempts?: number[]; log?: FaultLog },
): Activity<I, O> {
  const attempts = options.attempts ?? [1];
  return async (input) => {
    const result = await real(input);
    if (options.match(input) && attempts.includes(currentAttempt())) {
      options.log?.add(name, 'failed-after-commit');
      throw new InjectedFault(`${name} committed, then lost its reply`);
    }
    if (options.match(input)) options.log?.add(name, 'effect-applied');
    return result;
  };
}

/**
 * Coordinates zombie attempts with the retries that replace them, so a test can pin down
 * the order of "zombie applies its effect" and "the retry applies it" instead of racing.
 */
export class ZombieControl {
  /** Resolved when a non-zombie attempt of the wrapped activity has returned. */
  readonly retrySucceeded = new Deferred();
  /** Every zombie's late run, resolved with its outcome (never rejects). */
  readonly zombies: Promise<{ attempt: number; error?: unknown }>[] = [];
  /** Resolved when the first zombie has run its late effect. */
  readonly firstZombieDone = new Deferred();

  /** Waits until every zombie started so far has run its late effect. */
  async allZombiesDone(): Promise<Array<{ attempt: number; error?: unknown }>> {
    return Promise.all(this.zombies);
  }
}

/**
 * A zombie: the selected attempts stall past their start-to-close timeout, so Temporal gives
 * up on them and schedules a retry (or fails the step). Each zombie then wakes up and applies
 * the real effect late. `wakeAfter` makes it wait (after stalling) for something, e.g.
 * `control.retrySucceeded.promise` or "the saga finished"; `holdRetriesUntil` makes the other
 * attempts wait, e.g. for `control.firstZombieDone.promise`.
 */
export function zombie<I, O>(
  name: string,
  real: Activity<I, O>,
  options: {
    match: (input: I) => boolean;
    control: ZombieControl;
    stallMs: number;
    /** Attempts that become zombies (default: the first). */
    attempts?: number[];
    wakeAfter?: () => Promise<unknown>;
    holdRetriesUntil?: () => Promise<unknown>;
    log?: FaultLog;
  },
): Activity<I, O> {
  const zombieAttempts = options.attempts ?? [1];
  const { control } = options;
  return async (input) => {
    if (!options.match(input)) return real(input);
    const attempt = currentAttempt();
    if (!zombieAttempts.includes(attempt)) {
      if (options.holdRetriesUntil) await options.holdRetriesUntil();
      const result = await real(input);
      options.log?.add(name, 'effect-applied');
      control.retrySucceeded.resolve();
      return result;
    }
    const lateRun = (async () => {
      // Plain timers, not Context.sleep: a zombie does not notice that it was given up on.
      await sleep(options.stallMs);
      if (options.wakeAfter) await options.wakeAfter();
      options.log?.records.push({ activity: name, attempt, phase: 'zombie-woke' });
      try {
        const result = await real(input);
        options.log?.records.push({ activity: name, attempt, phase: 'zombie-applied' });
        return { attempt, result };
      } catch (error) {
        return { attempt, error };
      } finally {
        control.firstZombieDone.resolve();
      }
    })();
    control.zombies.push(lateRun);
    const outcome = await lateRun;
    if ('error' in outcome) throw outcome.error;
    return outcome.result;
  };
}

/** Fails (retryably) whenever `isFailing()` says so, e.g. while a flag is set. */
export function failWhile<I, O>(
  name: string,
  real: Activity<I, O>,
  options: { match: (input: I) => boolean; isFailing: () => boolean; calls?: { count: number } },
): Activity<I, O> {
  return async (input) => {
    if (options.match(input)) {
      if (options.calls) options.calls.count += 1;
      if (options.isFailing()) throw new InjectedFault(`${name} is down`);
    }
    return real(input);
  };
}

/**
 * Holds matching calls until `gate` opens (then runs the real activity), and reports each
 * held call through `entered`. Without `gate` the call is held for `delayMs`.
 */
export function holdUntil<I, O>(
  real: Activity<I, O>,
  options: {
    match: (input: I) => boolean;
    gate?: Promise<unknown>;
    delayMs?: number;
    entered?: Deferred<number>;
    /** Only these attempts are held (all when omitted). */
    attempts?: number[];
  },
): Activity<I, O> {
  return async (input) => {
    const attempt = currentAttempt();
    if (options.match(input) && (!options.attempts || options.attempts.includes(attempt))) {
      options.entered?.resolve(attempt);
      if (options.gate) await options.gate;
      if (options.delayMs) await sleep(options.delayMs);
    }
    return real(input);
  };
}

/**
 * Replaces some activities of `real` with wrapped versions. Each override receives the real
 * implementation of its own activity.
 */
export function withFaults(
  real: SagaActivities,
  overrides: {
    [N in ActivityName]?: (original: SagaActivities[N]) => SagaActivities[N];
  },
): SagaActivities {
  const wrapped: SagaActivities = { ...real };
  for (const name of Object.keys(overrides) as ActivityName[]) {
    const override = overrides[name] as
      ((original: SagaActivities[ActivityName]) => SagaActivities[ActivityName]) | undefined;
    // eslint-disable-next-line @typescript-eslint/unbound-method -- the activities never use `this`
    if (override) (wrapped as Record<ActivityName, unknown>)[name] = override(real[name]);
  }
  return wrapped;
}

// Invariants the fault tests check once the dust settles.

interface StreamReader {
  readStream(streamId: string): Promise<RecordedEvent[]>;
}

/**
 * Folds an SKU's stream, checking after every event that no count is negative and that
 * available + reserved + committed = received. Returns the final counts.
 */
export async function checkInventory(
  store: StreamReader,
  sku: string,
): Promise<InventoryItemState & { events: RecordedEvent[] }> {
  const events = await store.readStream(inventoryDecider.streamId(sku));
  let state = inventoryDecider.initialState();
  for (const event of events) {
    state = inventoryDecider.evolve(state, event as unknown as InventoryEvent);
    const { available, reserved, committed, received } = state;
    const where = `inventory-${sku} after v${event.version} ${event.type}`;
    if (available < 0 || reserved < 0 || committed < 0)
      throw new Error(`${where}: negative count ${JSON.stringify(state)}`);
    if (available + reserved + committed !== received)
      throw new Error(`${where}: available+reserved+committed != received`);
  }
  return { ...state, events };
}

const MOVEMENTS: Record<string, 1 | -1> = {
  FundsDeposited: 1,
  AccountCredited: 1,
  AccountDebited: -1,
};

/**
 * Walks an account's stream: every balanceAfter must be non-negative and equal the previous
 * balance plus or minus the movement. Returns the final balance and the money deposited.
 */
export async function checkAccount(
  store: StreamReader,
  accountId: string,
): Promise<{ balance: number; deposited: number; events: RecordedEvent[] }> {
  const events = await store.readStream(`account-${accountId}`);
  let balance = 0;
  let deposited = 0;
  for (const event of events) {
    const sign = MOVEMENTS[event.type];
    if (!sign) continue;
    const data = event.data as { amount: number; balanceAfter: number };
    const where = `account-${accountId} v${event.version} ${event.type}`;
    if (data.balanceAfter < 0) throw new Error(`${where}: balanceAfter ${data.balanceAfter} < 0`);
    if (data.balanceAfter !== balance + sign * data.amount)
      throw new Error(
        `${where}: balanceAfter ${data.balanceAfter} != ${balance} ${sign > 0 ? '+' : '-'} ${data.amount}`,
      );
    balance = data.balanceAfter;
    if (event.type === 'FundsDeposited') deposited += data.amount;
  }
  return { balance, deposited, events };
}

/** Events of one type (optionally with matching data) in a stream. */
export async function eventsOf(
  store: StreamReader,
  streamId: string,
  type: string,
  where: (data: Record<string, unknown>) => boolean = () => true,
): Promise<RecordedEvent[]> {
  return (await store.readStream(streamId)).filter(
    (e) => e.type === type && where(e.data as Record<string, unknown>),
  );
}
