import { z } from 'zod';

/**
 * How the simulated carrier behaves, from the environment (CARRIER_*). It is the outside
 * world, so its knobs live with it, not in Sagaflow's config (which only turns it on or off:
 * CARRIER_SIMULATOR).
 */
export interface CarrierSimulatorSettings {
  /** A confirmation comes this long after dispatch: uniform in [min, max] ms. */
  delayMs: { min: number; max: number };
  /** Share of deliveries confirmed twice (the second is a resend JetStream cannot recognise). */
  duplicateRate: number;
  /** Share of deliveries confirmed late: after `lateDelayMs` instead. */
  lateRate: number;
  lateDelayMs: number;
  /** Seeds the dice (per shipment, so each shipment's fate does not depend on arrival order). */
  seed: number | undefined;
}

const rate = z.coerce.number().min(0).max(1);
const range = z
  .string()
  .regex(/^\d+(-\d+)?$/, 'must be milliseconds, or a range such as 1000-2000')
  .transform((value) => {
    const [min, max = min] = value.split('-').map(Number) as [number, number?];
    return { min: Math.min(min, max), max: Math.max(min, max) };
  });

const schema = z.object({
  CARRIER_DELAY_MS: range.default({ min: 1_000, max: 2_000 }),
  CARRIER_DUPLICATE_RATE: rate.default(0.1),
  CARRIER_LATE_RATE: rate.default(0.05),
  CARRIER_LATE_DELAY_MS: z.coerce.number().int().nonnegative().default(60_000),
  CARRIER_SEED: z.coerce.number().int().optional(),
});

export function carrierSimulatorSettingsFrom(
  env: NodeJS.ProcessEnv = process.env,
): CarrierSimulatorSettings {
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(([, v]) => v !== undefined && v !== ''),
  );
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((i) => `  ${i.path.join('.')}: ${i.message}`)
      .join('\n');
    throw new Error(`Invalid carrier simulator configuration:\n${problems}`);
  }
  const c = parsed.data;
  return {
    delayMs: c.CARRIER_DELAY_MS,
    duplicateRate: c.CARRIER_DUPLICATE_RATE,
    lateRate: c.CARRIER_LATE_RATE,
    lateDelayMs: c.CARRIER_LATE_DELAY_MS,
    seed: c.CARRIER_SEED,
  };
}
