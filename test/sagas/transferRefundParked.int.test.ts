import { transferDecider } from '../../src/domain/transfer';
import { loadAggregate } from '../../src/eventstore';
import { ALL_PROJECTIONS, countSagasByStatus, createInlineProjector } from '../../src/projections';
import { checkAccount, failWhile, withFaults } from '../support/faults';
import { SagaHarness } from '../support/sagaHarness';

describe('a transfer whose refund parked and was then retried', () => {
  /** While set, refunding the source of transfer "parked-refund" fails (the account service is down). */
  let accountsDown = true;
  const refundCalls = { count: 0 };
  const h = new SagaHarness('transfer_refund_parked', {
    config: { COMPENSATION_MAX_ATTEMPTS: '2' },
    commandHandlerOptions: (db) => ({
      afterAppend: createInlineProjector(db.pool, ALL_PROJECTIONS, () => {}),
    }),
    wrapActivities: (real) =>
      withFaults(real, {
        refundDebit: (fn) =>
          failWhile('refundDebit', fn, {
            match: (input) => input.debitReference === 'transfer-parked-refund/debit',
            isFailing: () => accountsDown,
            calls: refundCalls,
          }),
      }),
  });
  beforeAll(() => h.start());
  afterAll(() => h.stop());

  const transferStatus = async (transferId: string) =>
    (await loadAggregate(h.db.eventStore, transferDecider.streamId(transferId), transferDecider))
      .state.status;

  it('ends with the aggregate, the read model, the metrics and the saga agreeing', async () => {
    await h.openAccount('pr-poor', 100);
    await h.openAccount('pr-dest', 0);
    // The debit is rejected (insufficient funds); its compensation (void the debit) parks.
    const { sagaId } = await h.startTransfer('parked-refund', 'pr-poor', 'pr-dest', 1_200);
    await h.waitForStatus(sagaId, (s) => s.status === 'COMPENSATION_FAILED');
    expect(refundCalls.count).toBe(2);
    // The saga says COMPENSATION_FAILED as it parks, then records the park in the aggregate.
    const parkRecorded = Date.now() + 10_000;
    while (
      (await transferStatus('parked-refund')) !== 'COMPENSATION_FAILED' &&
      Date.now() < parkRecorded
    )
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await transferStatus('parked-refund')).toBe('COMPENSATION_FAILED');

    accountsDown = false;
    await h.client.workflow.getHandle(sagaId).signal('retryCompensation');
    const result = await h.result(sagaId);

    expect(result.outcome).toBe('COMPENSATED');
    expect(result.reason).toMatch(/^INSUFFICIENT_FUNDS/);
    expect((await h.status(sagaId)).status).toBe('COMPENSATED');
    expect(await transferStatus('parked-refund')).toBe(result.outcome);
    const summary = await h.db.pool.query<{ status: string }>(
      `SELECT status FROM transfer_summary WHERE transfer_id = 'parked-refund'`,
    );
    expect(summary.rows[0]?.status).toBe(result.outcome);
    const transferCounts = (await countSagasByStatus(h.db.pool)).filter(
      (row) => row.sagaType === 'moneyTransfer',
    );
    expect(transferCounts).toEqual([
      { sagaType: 'moneyTransfer', status: 'COMPENSATED', count: 1 },
    ]);
    expect(await h.eventTypes('transfer-parked-refund')).toEqual([
      'TransferRequested',
      'TransferFailed',
      'TransferCompensationFailed',
      'TransferCompensated',
    ]);
    // Nothing moved: the debit never happened and its reference is void.
    expect((await checkAccount(h.db.eventStore, 'pr-poor')).balance).toBe(100);
    expect((await checkAccount(h.db.eventStore, 'pr-dest')).balance).toBe(0);
    expect(await h.eventTypes('account-pr-poor')).toContain('DebitVoided');
  });
});
