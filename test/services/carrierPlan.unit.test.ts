import { planDelivery } from '../../src/services/carrierSimulator/plan';
import { carrierSimulatorSettingsFrom } from '../../src/services/carrierSimulator/settings';
import { deliveryOf, DeliveryInbox } from '../../workflows/delivery';

describe('carrier simulator: plans', () => {
  const settings = carrierSimulatorSettingsFrom({ CARRIER_SEED: '42' });

  it('defaults to a confirmation 1–2 s after dispatch, sometimes twice, sometimes late', () => {
    expect(carrierSimulatorSettingsFrom({})).toEqual({
      delayMs: { min: 1_000, max: 2_000 },
      duplicateRate: 0.1,
      lateRate: 0.05,
      lateDelayMs: 60_000,
      seed: undefined,
    });
  });

  it('is deterministic per seed and shipment, whatever the arrival order', () => {
    const ids = Array.from({ length: 200 }, (_, i) => `s-${i}`);
    const first = ids.map((id) => planDelivery(settings, id));
    const reversed = [...ids]
      .reverse()
      .map((id) => planDelivery(settings, id))
      .reverse();
    expect(reversed).toEqual(first);
    const other = ids.map((id) => planDelivery({ ...settings, seed: 43 }, id));
    expect(other).not.toEqual(first);
  });

  it('rolls each rate about as often as configured', () => {
    const plans = Array.from({ length: 2_000 }, (_, i) => planDelivery(settings, `s-${i}`));
    const share = (f: (p: (typeof plans)[number]) => boolean) =>
      plans.filter(f).length / plans.length;
    expect(share((p) => p.twice)).toBeGreaterThan(0.07);
    expect(share((p) => p.twice)).toBeLessThan(0.13);
    expect(share((p) => p.late)).toBeGreaterThan(0.03);
    expect(share((p) => p.late)).toBeLessThan(0.07);
    for (const p of plans) {
      if (p.late) expect(p.delayMs).toBe(60_000);
      else expect(p.delayMs >= 1_000 && p.delayMs <= 2_000).toBe(true);
    }
  });

  it('names the variable of a bad setting', () => {
    expect(() => carrierSimulatorSettingsFrom({ CARRIER_DUPLICATE_RATE: '2' })).toThrow(
      /CARRIER_DUPLICATE_RATE/,
    );
    expect(() => carrierSimulatorSettingsFrom({ CARRIER_DELAY_MS: 'soon' })).toThrow(
      /CARRIER_DELAY_MS/,
    );
  });
});

describe('order saga: the delivery inbox', () => {
  it('keeps the first confirmation and counts the rest', () => {
    const inbox = new DeliveryInbox();
    inbox.receive({ messageId: 'm-1', shipmentId: 's-1', deliveredAt: '2026-01-01T00:00:00.000Z' });
    inbox.receive({ messageId: 'm-2', shipmentId: 's-1', deliveredAt: '2026-01-02T00:00:00.000Z' });
    expect(inbox.received).toEqual({
      messageId: 'm-1',
      shipmentId: 's-1',
      deliveredAt: '2026-01-01T00:00:00.000Z',
    });
    expect(inbox.duplicatesIgnored).toBe(1);
  });

  it('takes what an operator types into a signal box without failing', () => {
    expect(deliveryOf(null)).toEqual({
      messageId: 'unidentified',
      shipmentId: null,
      deliveredAt: null,
    });
    expect(deliveryOf('yes')).toEqual({
      messageId: 'unidentified',
      shipmentId: null,
      deliveredAt: null,
    });
    expect(deliveryOf({ messageId: 'a b', deliveredAt: 'yesterday' })).toEqual({
      messageId: 'unidentified',
      shipmentId: null,
      deliveredAt: null,
    });
  });
});
