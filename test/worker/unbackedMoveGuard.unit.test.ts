import { sagaOfReference } from '../../src/worker/unbackedMoveGuard';

describe('the saga a guarded money movement belongs to', () => {
  it('reads the order or transfer from the references the sagas build', () => {
    expect(sagaOfReference('order-o-1/payment')).toEqual({
      kind: 'order',
      id: 'o-1',
      movement: 'payment',
    });
    expect(sagaOfReference('transfer-t/1/debit')).toEqual({
      kind: 'transfer',
      id: 't/1',
      movement: 'debit',
    });
    expect(sagaOfReference('transfer-t-1/credit')).toEqual({
      kind: 'transfer',
      id: 't-1',
      movement: 'credit',
    });
  });

  it('reads an order revenue credit', () => {
    expect(sagaOfReference('order-o-1/revenue')).toEqual({
      kind: 'order',
      id: 'o-1',
      movement: 'revenue',
    });
  });

  it('leaves other movements alone', () => {
    expect(sagaOfReference('order-o-1/refund')).toBeUndefined();
    expect(sagaOfReference('top-up-42')).toBeUndefined();
    expect(sagaOfReference('initial-deposit')).toBeUndefined();
  });
});
