import { type CommandHandler, type CommandResult } from '../src/application/commandHandler';
import { recordedDebitByReference, recordedDebitOfStep } from '../src/application/recordedDebit';
import { type Command, type Decider, DomainRejection } from '../src/domain/decider';
import {
  accountDecider as defaultAccountDecider,
  type AccountCommand,
  type AccountEvent,
  type AccountState,
} from '../src/domain/account';
import { inventoryDecider } from '../src/domain/inventory';
import { orderDecider, type OrderCommand } from '../src/domain/order';
import { shipmentDecider } from '../src/domain/shipment';
import { transferDecider, type TransferCommand } from '../src/domain/transfer';
import { loadAggregate, type DomainEvent, type EventStore } from '../src/eventstore';
import { asActivity, stepContext, type Correlated } from './sagaActivityContext';

export interface ActivityDependencies {
  commands: CommandHandler;
  eventStore: EventStore;
  /** Destinations the carrier does not serve (country codes). */
  unservedCountries: readonly string[];
  now?: () => Date;
  /** The account decider (tests: one with a small reference window); the default otherwise. */
  accountDecider?: Decider<AccountState, AccountCommand, AccountEvent>;
}

/** What a step reports back: where its events landed (for read-your-writes), never aggregates. */
export interface StepResult {
  version: number;
  position: string | null;
  noop: boolean;
}

/** A command's type and payload without the ids and metadata the activity fills in. */
type Payload<C extends Command, Omitted extends string> =
  C extends Command<infer T, infer D> ? { type: T } & Omit<D, Omitted> : never;
export type OrderProgressCommand = Exclude<
  Payload<OrderCommand, 'orderId'>,
  { type: 'PlaceOrder' }
>;
export type TransferProgressCommand = Payload<TransferCommand, 'transferId'>;

/**
 * What a stock step is for: one line of one order. `line` (its index) came with the
 * per-line-step-ids patch: without it the step id is the SKU's alone, as before.
 */
export interface StockLine {
  orderId: string;
  sku: string;
  line?: number;
}

/** The debit step's id: its command id is `<workflow id>/debit/<reference>`. */
const debitStepId = (reference: string) => `debit/${reference}`;

/**
 * Lookups a refund makes at most while the decider finds a debit its lookup missed (see
 * refundDebit): by the debit step's event id, then (last) by reference over the stream.
 */
const MAX_REFUND_LOOKUPS = 3;

/** The stock step's id: `<action>/<line>/<sku>`, or `<action>/<sku>` for sagas started before. */
const stockStepId = (action: 'reserve' | 'release' | 'commit', input: StockLine) =>
  input.line === undefined ? `${action}/${input.sku}` : `${action}/${input.line}/${input.sku}`;

const stepResult = (result: CommandResult<unknown>): StepResult => ({
  version: result.version,
  position: result.lastPosition?.toString() ?? null,
  noop: result.noop,
});

/**
 * Saga steps: each runs one command on one aggregate. Retries are safe: event ids derive
 * from the workflow id and the step, and the deciders treat a repeated reference as done.
 */
export function createActivities(deps: ActivityDependencies) {
  const { commands } = deps;
  const accountDecider = deps.accountDecider ?? defaultAccountDecider;
  const metadata = () => ({ now: (deps.now?.() ?? new Date()).toISOString() });

  const run = <S, C extends Command, E extends DomainEvent>(
    decider: Decider<S, C, E>,
    aggregateId: string,
    command: Omit<C, 'metadata'>,
    step: string,
    input: Correlated,
  ) =>
    asActivity(async () =>
      stepResult(
        await commands.handle(
          decider,
          aggregateId,
          { ...command, metadata: metadata() } as C,
          stepContext(step, input),
        ),
      ),
    );

  return {
    async reserveStock(input: StockLine & { quantity: number } & Correlated) {
      return run(
        inventoryDecider,
        input.sku,
        {
          type: 'ReserveStock',
          data: { sku: input.sku, orderId: input.orderId, quantity: input.quantity },
        },
        stockStepId('reserve', input),
        input,
      );
    },

    async releaseStock(input: StockLine & Correlated) {
      return run(
        inventoryDecider,
        input.sku,
        { type: 'ReleaseReservation', data: { sku: input.sku, orderId: input.orderId } },
        stockStepId('release', input),
        input,
      );
    },

    async commitStock(input: StockLine & Correlated) {
      return run(
        inventoryDecider,
        input.sku,
        { type: 'CommitReservation', data: { sku: input.sku, orderId: input.orderId } },
        stockStepId('commit', input),
        input,
      );
    },

    /**
     * Reads the destination from the order (workflows never carry addresses). The country
     * is not personal data, so the order loads sealed: no key lookup, nothing decrypted.
     */
    async bookShipment(
      input: { orderId: string } & Correlated,
    ): Promise<StepResult & { shipmentId: string }> {
      const order = await loadAggregate(
        deps.eventStore,
        orderDecider.streamId(input.orderId),
        orderDecider,
        { sealedPersonalData: true },
      );
      const country =
        'shippingAddress' in order.state ? order.state.shippingAddress.country : undefined;
      if (!country) {
        throw new Error(`order ${input.orderId} has no shipping address: was it placed?`);
      }
      const shipmentId = input.orderId;
      const result = await run(
        shipmentDecider,
        shipmentId,
        {
          type: 'BookShipment',
          data: {
            shipmentId,
            orderId: input.orderId,
            destinationCountry: country,
            unservedCountries: [...deps.unservedCountries],
          },
        },
        'book-shipment',
        input,
      );
      return { ...result, shipmentId };
    },

    async cancelShipment(input: { orderId: string; reason: string } & Correlated) {
      return run(
        shipmentDecider,
        input.orderId,
        { type: 'CancelShipment', data: { shipmentId: input.orderId, reason: input.reason } },
        'cancel-shipment',
        input,
      );
    },

    async dispatchShipment(input: { orderId: string } & Correlated) {
      return run(
        shipmentDecider,
        input.orderId,
        { type: 'DispatchShipment', data: { shipmentId: input.orderId } },
        'dispatch-shipment',
        input,
      );
    },

    async debitAccount(
      input: { accountId: string; amount: number; reference: string } & Correlated,
    ) {
      return run(
        accountDecider,
        input.accountId,
        {
          type: 'DebitAccount',
          data: { accountId: input.accountId, amount: input.amount, reference: input.reference },
        },
        debitStepId(input.reference),
        input,
      );
    },

    async creditAccount(
      input: { accountId: string; amount: number; reference: string } & Correlated,
    ) {
      return run(
        accountDecider,
        input.accountId,
        {
          type: 'CreditAccount',
          data: { accountId: input.accountId, amount: input.amount, reference: input.reference },
        },
        `credit/${input.reference}`,
        input,
      );
    },

    /**
     * Pays back a debit only if it happened: a compensation must be harmless otherwise.
     * Whether it happened, and what it took, come from the account's stream (the debit
     * step's event, by id), not from the account's bounded window of recent references, so
     * a refund long after its debit still pays back exactly what was taken. A debit that
     * commits after the lookup (a timed-out attempt still running) is refused by the decider
     * as a stale lookup: look again. Found by neither lookup, yet in the account's window: a
     * debit with this reference under another command id (not this run's step), which the
     * last lookup finds by scanning the stream for the reference.
     */
    async refundDebit(
      input: {
        accountId: string;
        amount: number;
        debitReference: string;
        refundReference: string;
      } & Correlated,
    ) {
      const streamId = accountDecider.streamId(input.accountId);
      const debitCommandId = stepContext(debitStepId(input.debitReference), input).commandId;
      const context = stepContext(`refund/${input.debitReference}`, input);
      return asActivity(async () => {
        for (let lookup = 1; ; lookup++) {
          const debit =
            lookup < MAX_REFUND_LOOKUPS
              ? await recordedDebitOfStep(
                  deps.eventStore,
                  streamId,
                  debitCommandId,
                  input.debitReference,
                )
              : await recordedDebitByReference(deps.eventStore, streamId, input.debitReference);
          const command: AccountCommand = {
            type: 'RefundDebit',
            data: {
              accountId: input.accountId,
              amount: input.amount,
              debitReference: input.debitReference,
              refundReference: input.refundReference,
              debit,
            },
            metadata: metadata(),
          };
          try {
            return stepResult(
              await commands.handle(accountDecider, input.accountId, command, context),
            );
          } catch (error) {
            if (!(error instanceof DomainRejection) || error.code !== 'REFUND_DEBIT_LOOKUP_STALE')
              throw error;
            // Retryable: the next attempt looks again.
            if (lookup >= MAX_REFUND_LOOKUPS) throw new Error(error.message, { cause: error });
          }
        }
      });
    },

    async applyOrderCommand(
      input: { orderId: string; command: OrderProgressCommand } & Correlated,
    ) {
      const { type, ...data } = input.command;
      return run(
        orderDecider,
        input.orderId,
        { type, data: { ...data, orderId: input.orderId } },
        `order/${type}`,
        input,
      );
    },

    async applyTransferCommand(
      input: { transferId: string; command: TransferProgressCommand } & Correlated,
    ) {
      const { type, ...data } = input.command;
      return run(
        transferDecider,
        input.transferId,
        { type, data: { ...data, transferId: input.transferId } },
        `transfer/${type}`,
        input,
      );
    },
  };
}

export type SagaActivities = ReturnType<typeof createActivities>;
