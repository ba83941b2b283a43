import { SagaHarness } from '../support/sagaHarness';

describe('moneyTransfer saga', () => {
  const h = new SagaHarness('transfer_saga');
  beforeAll(() => h.start());
  afterAll(() => h.stop());

  it('moves the money and completes', async () => {
    await h.openAccount('t-a', 5_000);
    await h.openAccount('t-b', 0);
    const { sagaId } = await h.startTransfer('ok', 't-a', 't-b', 1_200);
    expect(await h.result(sagaId)).toEqual({
      outcome: 'COMPLETED',
      status: 'COMPLETED',
      reason: null,
    });
    expect(await h.balance('t-a')).toBe(3_800);
    expect(await h.balance('t-b')).toBe(1_200);
    expect(await h.eventTypes('transfer-ok')).toEqual([
      'TransferRequested',
      'TransferDebited',
      'TransferCredited',
      'TransferCompleted',
    ]);
  });

  it('insufficient funds: fails, nothing taken', async () => {
    await h.openAccount('t-poor', 100);
    await h.openAccount('t-rich', 0);
    const { sagaId } = await h.startTransfer('poor', 't-poor', 't-rich', 1_200);
    const result = await h.result(sagaId);
    expect(result.outcome).toBe('FAILED');
    expect(result.reason).toMatch(/^INSUFFICIENT_FUNDS/);
    expect(await h.eventTypes('account-t-poor')).toEqual([
      'AccountOpened',
      'FundsDeposited',
      'DebitVoided',
    ]);
    expect(await h.eventTypes('transfer-poor')).toEqual(['TransferRequested', 'TransferFailed']);
    expect(await h.balance('t-rich')).toBe(0);
  });

  it('frozen destination: refunds the source', async () => {
    await h.openAccount('t-src', 5_000);
    await h.openAccount('t-frozen', 0);
    await h.freeze('t-frozen');
    const { sagaId } = await h.startTransfer('frozen', 't-src', 't-frozen', 700);
    const result = await h.result(sagaId);
    expect(result.outcome).toBe('COMPENSATED');
    expect(result.reason).toMatch(/^ACCOUNT_FROZEN/);
    expect((await h.status(sagaId)).compensationsRun).toEqual(['refund source']);
    expect(await h.eventTypes('account-t-src')).toEqual([
      'AccountOpened',
      'FundsDeposited',
      'AccountDebited',
      'AccountCredited',
    ]);
    expect(await h.balance('t-src')).toBe(5_000);
    expect(await h.eventTypes('transfer-frozen')).toEqual([
      'TransferRequested',
      'TransferDebited',
      'TransferFailed',
      'TransferCompensated',
    ]);
  });
});
