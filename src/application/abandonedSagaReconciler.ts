import { type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import type { Command, Decider } from '../domain/decider';
import { accountDecider, type RecordedDebit } from '../domain/account';
import { inventoryDecider } from '../domain/inventory';
import {
  orderDecider,
  orderPaymentReference,
  orderRefundReference,
  type PlacedOrder,
} from '../domain/order';
import { shipmentDecider } from '../domain/shipment';
import {
  transferDebitReference,
  transferDecider,
  transferRefundReference,
  type RequestedTransfer,
} from '../domain/transfer';
import { loadAggregate, type DomainEvent, type EventStore } from '../eventstore';
import type { MoneyTransferInput, OrderFulfillmentInput } from '../../workflows/definitions';
import { SAGA_SEARCH_ATTRIBUTES } from '../../workflows/searchAttributes';
import type { CommandHandler } from './commandHandler';
import { recordedDebitByReference } from './recordedDebit';
import { PeriodicPass } from './periodicPass';
import { isWorkflowAlreadyStarted } from '../temporal/workflowLookup';

export interface AbandonedSagaReconcilerDependencies {
  client: Client;
  commands: CommandHandler;
  eventStore: EventStore;
  /** The task queue whose sagas this reconciler looks after (the worker's own). */
  taskQueue: string;
}

export interface AbandonedSagaReconcilerOptions {
  /**
   * How long after its workflow closed a saga is left alone: an activity of a terminated
   * run keeps running until it returns or times out, and should land first.
   */
  graceSeconds?: number;
  /** How far back to look for closed runs. */
  lookbackHours?: number;
  /** Fresh runs the reconciler starts for one saga before it leaves it to an operator. */
  maxResumes?: number;
  intervalMs?: number;
  log?: (message: string, error?: unknown) => void;
}

export interface ReconciledSaga {
  sagaId: string;
  /** How the workflow ended: TERMINATED, TIMED_OUT, FAILED or CANCELLED. */
  workflowStatus: string;
  /** resumed: a fresh run finishes it; compensated: its steps were undone here; flagged: left to an operator. */
  action: 'resumed' | 'compensated' | 'flagged';
}

/** Workflow ends that leave a saga half-done unless its aggregate says otherwise. */
const ABANDONED_STATUSES = ['TERMINATED', 'TIMED_OUT', 'FAILED', 'CANCELLED'];
const ABANDONED_QUERY_STATUSES = "('Terminated','TimedOut','Failed','Canceled')";
/** The memo key that counts the fresh runs this reconciler started for a saga. */
export const RESUMES_MEMO_KEY = 'reconcilerResumes';

const SAGA_ATTRIBUTE_NAMES = new Set<string>(SAGA_SEARCH_ATTRIBUTES.map((key) => key.name));

/** The dead run's own search attributes (not the server's, e.g. TemporalChangeVersion). */
const sagaSearchAttributes = (run: WorkflowExecutionDescription) =>
  run.typedSearchAttributes.getAll().filter((pair) => SAGA_ATTRIBUTE_NAMES.has(pair.key.name));

type SagaInput =
  | { workflowType: 'orderFulfillment'; input: OrderFulfillmentInput }
  | { workflowType: 'moneyTransfer'; input: MoneyTransferInput };

/**
 * An operator can terminate a saga from the Temporal UI at any point, and a run can time
 * out or fail (a non-determinism error): the workflow is closed, its order or transfer is
 * not finished, and nothing would ever finish it. This finds such sagas (closed runs on
 * the task queue, per Temporal's visibility) and finishes the job:
 *
 * - an order that was not charged is undone here: refund (a void, so a charge still in
 *   flight takes nothing), cancel the shipment, release the stock, cancel the order. A
 *   forward re-run is not safe before the pivot: the run may have died while unwinding,
 *   and its released stock and cancelled shipment would read as done to a re-run;
 * - an order that was charged, and a transfer not yet failed, get a fresh run of the saga
 *   with the same input. Every step is idempotent (the deciders treat a repeated reference
 *   as done), so it resumes: the charge and the debit, whose references derive from the
 *   business id, apply nothing twice. An order already approved is re-approved in the same
 *   call (the approval, recorded in the order, would otherwise be waited for again);
 * - a failed transfer whose refund may not have run is refunded here and marked compensated.
 *
 * A saga resumed `maxResumes` times without finishing is left to an operator (logged).
 */
export class AbandonedSagaReconciler {
  private readonly periodic: PeriodicPass;

  constructor(
    private readonly deps: AbandonedSagaReconcilerDependencies,
    private readonly options: AbandonedSagaReconcilerOptions = {},
  ) {
    this.periodic = new PeriodicPass(
      () => this.reconcileOnce(),
      options.intervalMs ?? 30_000,
      (error) => options.log?.('abandoned saga reconciler failed', error),
    );
  }

  start(): void {
    this.periodic.start();
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }

  /** One pass over recently closed runs; returns what it did. */
  async reconcileOnce(): Promise<ReconciledSaga[]> {
    const done: ReconciledSaga[] = [];
    for (const workflowId of await this.recentlyAbandonedWorkflowIds()) {
      const outcome = await this.reconcile(workflowId).catch((error: unknown) => {
        this.options.log?.(`could not finish saga ${workflowId}`, error);
        return undefined;
      });
      if (outcome) done.push(outcome);
    }
    return done;
  }

  private async recentlyAbandonedWorkflowIds(): Promise<string[]> {
    const now = Date.now();
    const since = new Date(now - (this.options.lookbackHours ?? 24 * 7) * 3_600_000);
    const until = new Date(now - (this.options.graceSeconds ?? 60) * 1_000);
    const query = [
      `TaskQueue = '${this.deps.taskQueue.replaceAll("'", "\\'")}'`,
      `WorkflowType IN ('orderFulfillment', 'moneyTransfer')`,
      `ExecutionStatus IN ${ABANDONED_QUERY_STATUSES}`,
      `CloseTime BETWEEN '${since.toISOString()}' AND '${until.toISOString()}'`,
    ].join(' AND ');
    const ids = new Set<string>();
    for await (const execution of this.deps.client.workflow.list({ query })) {
      ids.add(execution.workflowId);
    }
    return [...ids];
  }

  /** Looks at the saga's latest run (a newer one may already be finishing it). */
  private async reconcile(workflowId: string): Promise<ReconciledSaga | undefined> {
    const latest = await this.deps.client.workflow.getHandle(workflowId).describe();
    const workflowStatus = latest.status.name;
    if (!ABANDONED_STATUSES.includes(workflowStatus)) return undefined;
    if (this.closedWithinGrace(latest)) return undefined;
    const saga = await this.startInput(latest);
    const action =
      saga.workflowType === 'orderFulfillment'
        ? await this.finishOrder(latest, saga.input, workflowStatus)
        : await this.finishTransfer(latest, saga.input, workflowStatus);
    if (!action) return undefined;
    this.options.log?.(`saga ${workflowId} was ${workflowStatus}: ${action}`);
    return { sagaId: workflowId, workflowStatus, action };
  }

  private closedWithinGrace(run: WorkflowExecutionDescription): boolean {
    const graceMs = (this.options.graceSeconds ?? 60) * 1_000;
    return run.closeTime !== undefined && Date.now() - run.closeTime.getTime() < graceMs;
  }

  private async finishOrder(
    run: WorkflowExecutionDescription,
    input: OrderFulfillmentInput,
    workflowStatus: string,
  ): Promise<ReconciledSaga['action'] | undefined> {
    const { state } = await loadAggregate(
      this.deps.eventStore,
      orderDecider.streamId(input.orderId),
      orderDecider,
      { sealedPersonalData: true },
    );
    if (state.status === 'NONE' || state.status === 'COMPLETED' || state.status === 'CANCELLED')
      return undefined;
    if (await this.orderWasCharged(state, input)) {
      // The facts come from the order as stored, not from the run's input, which whoever
      // started that run (the UI lets an operator edit it) chose.
      return this.resume(
        run,
        { workflowType: 'orderFulfillment', input: withStoredOrderFacts(input, state) },
        state.approved,
      );
    }
    await this.undoOrder(run.workflowId, input.correlationId, state, workflowStatus);
    return 'compensated';
  }

  private async orderWasCharged(order: PlacedOrder, input: OrderFulfillmentInput) {
    if (order.paidAmount !== undefined) return true;
    return (
      (await this.recordedDebit(order.paymentAccountId, orderPaymentReference(input.orderId))) !==
      null
    );
  }

  /**
   * Read from the stream itself, not the account's bounded window of recent references: an
   * old charge must still count as a charge.
   */
  private recordedDebit(accountId: string, reference: string): Promise<RecordedDebit | null> {
    return recordedDebitByReference(
      this.deps.eventStore,
      accountDecider.streamId(accountId),
      reference,
    );
  }

  /**
   * The order saga's compensations in its unwind order, then the cancel, under its step
   * ids. Accounts, lines and amounts come from the order, not from the run's input (which
   * whoever started the run chose).
   */
  private async undoOrder(
    workflowId: string,
    correlationId: string,
    order: PlacedOrder,
    status: string,
  ) {
    const { orderId } = order;
    const step = this.stepRunner(workflowId, correlationId);
    const payment = orderPaymentReference(orderId);
    const debit = await this.recordedDebit(order.paymentAccountId, payment);
    await step(accountDecider, order.paymentAccountId, `refund/${payment}`, {
      type: 'RefundDebit',
      data: {
        accountId: order.paymentAccountId,
        // A charge of another amount is refused (REFUND_AMOUNT_MISMATCH), never paid back.
        amount: order.total,
        debitReference: payment,
        refundReference: orderRefundReference(orderId),
        debit,
      },
    });
    await step(shipmentDecider, orderId, 'cancel-shipment', {
      type: 'CancelShipment',
      data: { shipmentId: orderId, reason: 'order cancelled' },
    });
    for (const line of [...order.items].reverse()) {
      await step(inventoryDecider, line.sku, `release/${line.sku}`, {
        type: 'ReleaseReservation',
        data: { sku: line.sku, orderId },
      });
    }
    await step(orderDecider, orderId, 'order/CancelOrder', {
      type: 'CancelOrder',
      data: {
        orderId,
        reason: `SAGA_${status}: its workflow was ${status.toLowerCase()} before the payment; the reconciler undid its steps`,
      },
    });
  }

  private async finishTransfer(
    run: WorkflowExecutionDescription,
    input: MoneyTransferInput,
    workflowStatus: string,
  ): Promise<ReconciledSaga['action'] | undefined> {
    const { state } = await loadAggregate(
      this.deps.eventStore,
      transferDecider.streamId(input.transferId),
      transferDecider,
    );
    if (state.status === 'NONE')
      return this.failUnstartedTransfer(run.workflowId, input, workflowStatus);
    if (state.status === 'COMPLETED' || state.status === 'COMPENSATED') return undefined;
    if (state.status === 'FAILED' || state.status === 'COMPENSATION_FAILED') {
      return this.refundTransfer(run.workflowId, input, state, workflowStatus);
    }
    return this.resume(run, { workflowType: 'moneyTransfer', input }, false);
  }

  /**
   * A run that ended before its first step recorded nothing, so nothing moved (the debit
   * comes after the request). The transfer is recorded as requested and failed, under the
   * saga's own step ids, so it ends FAILED like any refused transfer instead of never.
   */
  private async failUnstartedTransfer(
    workflowId: string,
    input: MoneyTransferInput,
    status: string,
  ): Promise<ReconciledSaga['action']> {
    const { transferId, fromAccountId, toAccountId, amount } = input;
    const step = this.stepRunner(workflowId, input.correlationId);
    await step(transferDecider, transferId, 'transfer/RequestTransfer', {
      type: 'RequestTransfer',
      data: { transferId, fromAccountId, toAccountId, amount },
    });
    await step(transferDecider, transferId, 'transfer/FailTransfer', {
      type: 'FailTransfer',
      data: {
        transferId,
        reason: `SAGA_${status}: its workflow was ${status.toLowerCase()} before its first step; nothing moved`,
      },
    });
    return 'compensated';
  }

  /**
   * A failed transfer's refund may not have run (or parked): refund now (a void when the
   * debit never happened). Returns undefined when it only confirmed a failure with nothing
   * to pay back.
   */
  private async refundTransfer(
    workflowId: string,
    input: MoneyTransferInput,
    transfer: RequestedTransfer,
    status: string,
  ): Promise<ReconciledSaga['action'] | undefined> {
    const { transferId } = input;
    const debitReference = transferDebitReference(transferId);
    const step = this.stepRunner(workflowId, input.correlationId);
    // The account and amount as the transfer recorded them, not as the run's input says.
    const debit = await this.recordedDebit(transfer.fromAccountId, debitReference);
    await step(accountDecider, transfer.fromAccountId, `refund/${debitReference}`, {
      type: 'RefundDebit',
      data: {
        accountId: transfer.fromAccountId,
        amount: transfer.amount,
        debitReference,
        refundReference: transferRefundReference(transferId),
        debit,
      },
    });
    if (transfer.status === 'FAILED' && debit === null) return undefined;
    await step(transferDecider, transferId, 'transfer/MarkTransferCompensated', {
      type: 'MarkTransferCompensated',
      data: {
        transferId,
        reason:
          transfer.failureReason ??
          `SAGA_${status}: its workflow was ${status.toLowerCase()}; the reconciler refunded the source`,
      },
    });
    return 'compensated';
  }

  /**
   * Runs one command under the step id the saga itself uses (`<workflow id>/<step>`), so a
   * step the dead run already applied, or applies late, is applied once.
   */
  private stepRunner(workflowId: string, correlationId: string) {
    return async <S, C extends Command, E extends DomainEvent>(
      decider: Decider<S, C, E>,
      aggregateId: string,
      step: string,
      command: Omit<C, 'metadata'>,
    ) => {
      await this.deps.commands.handle(
        decider,
        aggregateId,
        { ...command, metadata: { now: new Date().toISOString() } } as C,
        { commandId: `${workflowId}/${step}`, correlationId, causationId: workflowId },
      );
    };
  }

  /**
   * A fresh run with the dead run's input, allowed only because that run did not complete
   * (ALLOW_DUPLICATE_FAILED_ONLY); a run started meanwhile by anyone else wins.
   */
  private async resume(
    run: WorkflowExecutionDescription,
    saga: SagaInput,
    approved: boolean,
  ): Promise<ReconciledSaga['action'] | undefined> {
    const resumes = Number(run.memo?.[RESUMES_MEMO_KEY] ?? 0);
    if (resumes >= (this.options.maxResumes ?? 3)) {
      this.options.log?.(
        `saga ${run.workflowId} did not finish after ${resumes} fresh runs: an operator must look at it`,
      );
      return 'flagged';
    }
    const options = {
      workflowId: run.workflowId,
      taskQueue: run.taskQueue,
      args: [saga.input] as [OrderFulfillmentInput] | [MoneyTransferInput],
      workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY' as const,
      typedSearchAttributes: sagaSearchAttributes(run),
      memo: { ...run.memo, [RESUMES_MEMO_KEY]: resumes + 1 },
      staticSummary: await run.staticSummary(),
    };
    try {
      if (approved) {
        await this.deps.client.workflow.signalWithStart(saga.workflowType, {
          ...options,
          signal: 'approve',
          signalArgs: [{ approvedBy: 'reconciler: approval recorded on the order' }],
        });
      } else {
        await this.deps.client.workflow.start(saga.workflowType, {
          ...options,
          workflowIdConflictPolicy: 'FAIL',
        });
      }
      return 'resumed';
    } catch (error) {
      // Another worker's reconciler (or an operator) started or finished a run meanwhile.
      if (isWorkflowAlreadyStarted(error)) return undefined;
      throw error;
    }
  }

  /** The input the saga's run was started with (the first event of its history). */
  private async startInput(run: WorkflowExecutionDescription): Promise<SagaInput> {
    const { history } = await this.deps.client.workflowService.getWorkflowExecutionHistory({
      namespace: this.deps.client.options.namespace,
      execution: { workflowId: run.workflowId, runId: run.runId },
      maximumPageSize: 1,
    });
    const payload =
      history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    if (!payload) throw new Error(`saga ${run.workflowId}: no start input in its history`);
    const input: unknown =
      this.deps.client.options.loadedDataConverter.payloadConverter.fromPayload(payload);
    if (run.type === 'orderFulfillment')
      return { workflowType: run.type, input: input as OrderFulfillmentInput };
    if (run.type === 'moneyTransfer')
      return { workflowType: run.type, input: input as MoneyTransferInput };
    throw new Error(`saga ${run.workflowId}: unknown workflow type ${run.type}`);
  }
}

/** A run's input with the order's own lines, total, customer and payment account. */
function withStoredOrderFacts(input: OrderFulfillmentInput, order: PlacedOrder) {
  return {
    ...input,
    customerId: order.customerId,
    paymentAccountId: order.paymentAccountId,
    lines: order.items.map(({ sku, quantity, unitPrice }) => ({ sku, quantity, unitPrice })),
    total: order.total,
  } satisfies OrderFulfillmentInput;
}
