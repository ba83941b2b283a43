import '../api/support/esmShim';
import { address, createApiTestApp, orderBody, type ApiTestApp } from '../api/support/apiApp';

describe('erasing a customer over HTTP', () => {
  let t: ApiTestApp;
  beforeAll(async () => {
    t = await createApiTestApp(
      'erasure_http',
      { API_KEYS: 'ops:operator,boss:admin' },
      { swaggerUi: false },
    );
  });
  afterAll(() => t?.close());

  it('needs the admin role, then shows the address as erased while the order still reads', async () => {
    const placed = await t.app.inject({
      method: 'POST',
      url: '/orders',
      headers: { 'x-api-key': 'ops' },
      payload: orderBody({ customerId: 'c-erase' }),
    });
    expect(placed.statusCode).toBe(202);
    const { orderId } = placed.json<{ orderId: string }>();

    const before = await t.app.inject({
      url: `/orders/${orderId}/shipping-address`,
      headers: { 'x-api-key': 'ops' },
    });
    expect(before.json()).toEqual({ orderId, shippingAddress: address, erased: false });

    const forbidden = await t.app.inject({
      method: 'DELETE',
      url: '/customers/c-erase/personal-data',
      headers: { 'x-api-key': 'ops' },
    });
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.headers['content-type']).toMatch(/application\/problem\+json/);

    const erased = await t.app.inject({
      method: 'DELETE',
      url: '/customers/c-erase/personal-data',
      headers: { 'x-api-key': 'boss' },
    });
    expect(erased.statusCode).toBe(200);
    expect(erased.json()).toEqual({ customerId: 'c-erase', erased: true, keyExisted: true });

    const after = await t.app.inject({
      url: `/orders/${orderId}/shipping-address`,
      headers: { 'x-api-key': 'ops' },
    });
    expect(after.json()).toEqual({
      orderId,
      shippingAddress: {
        name: '[erased]',
        line1: '[erased]',
        city: '[erased]',
        postalCode: '[erased]',
        country: 'GB',
      },
      erased: true,
    });
    const order = await t.app.inject({
      url: `/orders/${orderId}`,
      headers: { 'x-api-key': 'ops' },
    });
    expect(order.statusCode).toBe(200);
    expect(order.body).not.toMatch(/Lovelace|Analytical/);

    // A returning customer: the new order's address is stored under a new key and reads.
    const placedAgain = await t.app.inject({
      method: 'POST',
      url: '/orders',
      headers: { 'x-api-key': 'ops' },
      payload: orderBody({ customerId: 'c-erase' }),
    });
    expect(placedAgain.statusCode).toBe(202);
    const { orderId: newOrderId } = placedAgain.json<{ orderId: string }>();
    const newAddress = await t.app.inject({
      url: `/orders/${newOrderId}/shipping-address`,
      headers: { 'x-api-key': 'ops' },
    });
    expect(newAddress.json()).toEqual({
      orderId: newOrderId,
      shippingAddress: address,
      erased: false,
    });
    const oldAddress = await t.app.inject({
      url: `/orders/${orderId}/shipping-address`,
      headers: { 'x-api-key': 'ops' },
    });
    expect(oldAddress.json()).toMatchObject({ erased: true });

    const again = await t.app.inject({
      method: 'DELETE',
      url: '/customers/c-erase/personal-data',
      headers: { 'x-api-key': 'boss' },
    });
    expect(again.json()).toMatchObject({ erased: true, keyExisted: true });
    const onceMore = await t.app.inject({
      method: 'DELETE',
      url: '/customers/c-erase/personal-data',
      headers: { 'x-api-key': 'boss' },
    });
    expect(onceMore.json()).toMatchObject({ erased: true, keyExisted: false });
  });
});
