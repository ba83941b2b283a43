import { DOMAIN_EVENT_SCHEMAS } from '../../src/application/eventStore';
import { EVENT_SCHEMA_VERSIONS, upcastOrderPlacedV1 } from '../../src/domain';
import {
  EventSchemaRegistry,
  EventSchemaViolationError,
  UndeclaredEventTypeError,
} from '../../src/eventstore';
import { Type } from '../../src/infra/typebox';

const v1Placed = {
  orderId: 'o-1',
  customerId: 'c-1',
  paymentAccountId: 'a-1',
  items: [{ sku: 'SKU-A', quantity: 2, unitPrice: 1250 }],
  total: 2500,
  shippingAddress: { name: 'A', line1: 'B', city: 'C', postalCode: 'D', country: 'GB' },
  placedAt: '2026-12-01T10:00:00.000Z',
};

describe('event schemas', () => {
  it('cover every declared event type at its declared version, and nothing else', () => {
    const current = DOMAIN_EVENT_SCHEMAS.catalogue().filter((entry) => entry.current);
    expect(Object.fromEntries(current.map((entry) => [entry.type, entry.version]))).toEqual(
      EVENT_SCHEMA_VERSIONS,
    );
  });

  it('upcast OrderPlaced v1 to a valid v2, and leave v2 data as it is', () => {
    const { schemaVersion, data } = DOMAIN_EVENT_SCHEMAS.upcasters.upcast(
      'OrderPlaced',
      1,
      v1Placed,
    );
    expect(schemaVersion).toBe(2);
    expect(DOMAIN_EVENT_SCHEMAS.check('OrderPlaced', data)).toBe(2);
    expect(data).toEqual({
      ...v1Placed,
      items: [{ sku: 'SKU-A', quantity: 2, unitPrice: 1250, currency: 'EUR' }],
    });
    const v2 = data as typeof v1Placed;
    expect(upcastOrderPlacedV1(v2)).toEqual(v2);
  });

  it('name the type, the version and the field of a violation', () => {
    const check = (data: unknown) => () => DOMAIN_EVENT_SCHEMAS.check('OrderPlaced', data);
    expect(check(v1Placed)).toThrow(
      new EventSchemaViolationError(
        'OrderPlaced',
        2,
        'items.0.currency',
        'must have required properties currency',
      ),
    );
    const withExtra = upcastOrderPlacedV1({ ...v1Placed, discount: 5 });
    expect(check(withExtra)).toThrow(/^Event OrderPlaced v2: field discount /);
    const badAddress = upcastOrderPlacedV1({
      ...v1Placed,
      shippingAddress: { ...v1Placed.shippingAddress, city: 7 },
    });
    expect(check(badAddress)).toThrow(/field shippingAddress\.city/);
    expect(() => DOMAIN_EVENT_SCHEMAS.check('OrderTeleported', {})).toThrow(
      UndeclaredEventTypeError,
    );
  });

  it('accept a personal field in its sealed form, not in any other', () => {
    const sealed = { $pii: 1, subject: 'customer-c-1', gen: 1, iv: 'i', tag: 't', data: 'd' };
    const placed = upcastOrderPlacedV1({
      ...v1Placed,
      shippingAddress: { ...v1Placed.shippingAddress, name: sealed, line1: sealed },
    });
    expect(DOMAIN_EVENT_SCHEMAS.check('OrderPlaced', placed)).toBe(2);
    const country = upcastOrderPlacedV1({
      ...v1Placed,
      shippingAddress: { ...v1Placed.shippingAddress, country: sealed },
    });
    expect(() => DOMAIN_EVENT_SCHEMAS.check('OrderPlaced', country)).toThrow(
      /field shippingAddress\.country/,
    );
  });

  it('refuse a catalogue whose later version has no upcaster, or versions out of order', () => {
    const schema = Type.Object({});
    expect(
      () =>
        new EventSchemaRegistry({
          A: [
            { version: 1, schema },
            { version: 2, schema },
          ],
        }),
    ).toThrow('Event A v2: no upcaster from v1');
    expect(() => new EventSchemaRegistry({ A: [{ version: 2, schema }] })).toThrow(
      /must run 1, 2, 3/,
    );
  });
});
