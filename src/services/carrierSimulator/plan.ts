import { createHash } from 'node:crypto';
import type { CarrierSimulatorSettings } from './settings';

/** What the simulated carrier will do about one dispatched shipment. */
export interface DeliveryPlan {
  /** After dispatch, ms. */
  delayMs: number;
  late: boolean;
  /** Confirmed a second time, shortly after the first. */
  twice: boolean;
}

/**
 * Rolls the dice for one shipment. Seeded: the same seed and shipment always give the same
 * plan; unseeded: Math.random.
 */
export function planDelivery(settings: CarrierSimulatorSettings, shipmentId: string): DeliveryPlan {
  const roll = settings.seed === undefined ? Math.random : seededRandom(settings.seed, shipmentId);
  const late = roll() < settings.lateRate;
  const twice = roll() < settings.duplicateRate;
  const { min, max } = settings.delayMs;
  const onTime = min + Math.floor(roll() * (max - min + 1));
  return { delayMs: late ? settings.lateDelayMs : onTime, late, twice };
}

/** mulberry32 over a seed mixed with the shipment id: small, fast, good enough for dice. */
function seededRandom(seed: number, key: string): () => number {
  let state = createHash('sha256').update(`${seed}/${key}`).digest().readUInt32LE(0);
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
