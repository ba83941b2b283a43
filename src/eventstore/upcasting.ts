/**
 * Upcasters turn an event stored at schema version n into version n+1. They are chained
 * on read, so a v1 row reaches v3 through v1→v2→v3. Stored rows never change.
 */
export type Upcaster = (data: unknown) => unknown;

export class UpcasterRegistry {
  private readonly byType = new Map<string, Map<number, Upcaster>>();

  /** Registers the step from `fromVersion` to `fromVersion + 1` for one event type. */
  register(eventType: string, fromVersion: number, upcast: Upcaster): this {
    const steps = this.byType.get(eventType) ?? new Map<number, Upcaster>();
    if (steps.has(fromVersion)) {
      throw new Error(`Upcaster for ${eventType} v${fromVersion} is already registered`);
    }
    steps.set(fromVersion, upcast);
    this.byType.set(eventType, steps);
    return this;
  }

  /** The version events of this type are upcast to. */
  currentVersion(eventType: string): number {
    const steps = this.byType.get(eventType);
    if (!steps || steps.size === 0) return 1;
    return Math.max(...steps.keys()) + 1;
  }

  upcast(
    eventType: string,
    schemaVersion: number,
    data: unknown,
  ): { schemaVersion: number; data: unknown } {
    const steps = this.byType.get(eventType);
    let version = schemaVersion;
    let current = data;
    for (let step = steps?.get(version); step; step = steps?.get(version)) {
      current = step(current);
      version += 1;
    }
    return { schemaVersion: version, data: current };
  }
}
