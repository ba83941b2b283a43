import type { DomainEvent } from '../../src/eventstore/aggregateLoader';
import { type Command, type Decider, isRejection } from '../../src/domain/decider';
import { DOMAIN_EVENT_SCHEMAS } from '../../src/application/eventStore';

/**
 * Given/when/then for deciders, after Emmett's DeciderSpecification:
 *
 *   DeciderSpecification.for(accountDecider)
 *     .given([opened])
 *     .when(debit)
 *     .then([debited]);   // or .thenRejects('INSUFFICIENT_FUNDS') / .thenNothing()
 *
 * `given` events are evolved from the initial state; `when` runs decide on the result.
 */
export interface DeciderThen<State, Event> {
  /** The decision is exactly these events. Returns the state after evolving them. */
  then(expected: readonly Event[]): State;
  /** The decision is a DomainRejection with this code (and, if given, these details). */
  thenRejects(code: string, details?: Record<string, unknown>): void;
  /** Idempotent no-op: no events, no rejection. */
  thenNothing(): void;
}

export interface DeciderWhen<State, Cmd, Event> {
  when(command: Cmd): DeciderThen<State, Event>;
}

export interface DeciderGiven<State, Cmd, Event> extends DeciderWhen<State, Cmd, Event> {
  given(events: readonly Event[]): DeciderWhen<State, Cmd, Event>;
}

export const DeciderSpecification = {
  for<State, Cmd extends Command, Event extends DomainEvent>(
    decider: Decider<State, Cmd, Event>,
  ): DeciderGiven<State, Cmd, Event> {
    const given = (events: readonly Event[]): DeciderWhen<State, Cmd, Event> => ({
      when(command) {
        const state = events.reduce(decider.evolve, decider.initialState());
        const decide = () => decider.decide(command, state);
        return {
          then(expected) {
            const decision = decide();
            if (isRejection(decision))
              throw new Error(
                `Expected events, got rejection ${decision.code}: ${decision.message}`,
              );
            expect(decision).toEqual(expected);
            // What the decider writes is what the store accepts, at the version it declares.
            for (const event of decision) {
              const declared = (decider.eventSchemaVersions as Record<string, number>)[event.type];
              expect(DOMAIN_EVENT_SCHEMAS.currentVersion(event.type)).toBe(declared);
              expect(DOMAIN_EVENT_SCHEMAS.check(event.type, event.data)).toBe(declared);
            }
            return decision.reduce(decider.evolve, state);
          },
          thenRejects(code, details) {
            const decision = decide();
            if (!isRejection(decision))
              throw new Error(`Expected rejection ${code}, got ${JSON.stringify(decision)}`);
            expect(decision.code).toBe(code);
            if (details) expect(decision.details).toMatchObject(details);
          },
          thenNothing() {
            expect(decide()).toEqual([]);
          },
        };
      },
    });
    return { given, when: (command) => given([]).when(command) };
  },
};
