import { ORDER_CURSOR_PATTERN } from '../../projections/queries';
import { ORDER_STATUSES } from '../../domain/order/order';
import {
  CANCEL_REASON_CODES,
  ORDER_SAGA_STATUSES,
  SAGA_OUTCOMES,
  SAGA_TYPES,
  TRANSFER_SAGA_STATUSES,
} from '../../../workflows/definitions';
import { WORKFLOW_EXECUTION_STATUSES } from '../../temporal/workflowLookup';
import { Id, Links, minPosition, NullableString, PositionOf, StringEnum } from './common';
import { Type, type Static } from './typebox';

export const OrderParams = Type.Object({ id: Id('Order id') });

const Text = (maxLength: number) => Type.String({ minLength: 1, maxLength });

/** Bounds under which no order total (≤ 100 lines) exceeds 2^53 - 1, which the domain refuses. */
const MAX_ITEMS = 100;
const MAX_QUANTITY = 1_000_000;
const MAX_UNIT_PRICE = Math.floor(Number.MAX_SAFE_INTEGER / (MAX_ITEMS * MAX_QUANTITY));

export const OrderItem = Type.Object(
  {
    sku: Id('SKU'),
    quantity: Type.Integer({ minimum: 1, maximum: MAX_QUANTITY, description: 'Positive quantity' }),
    unitPrice: Type.Integer({
      minimum: 1,
      maximum: MAX_UNIT_PRICE,
      description: 'Positive integer in minor units (e.g. cents)',
    }),
  },
  { additionalProperties: false },
);

export const ShippingAddress = Type.Object(
  {
    name: Text(200),
    line1: Text(200),
    city: Text(100),
    postalCode: Text(20),
    country: Type.String({ pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2' }),
  },
  { additionalProperties: false },
);

export const PlaceOrderBody = Type.Object(
  {
    customerId: Id('Customer id'),
    paymentAccountId: Id('Account the order is paid from'),
    items: Type.Array(OrderItem, { minItems: 1, maxItems: MAX_ITEMS }),
    shippingAddress: ShippingAddress,
  },
  { additionalProperties: false },
);
export type PlaceOrderBody = Static<typeof PlaceOrderBody>;

export const OrderAccepted = Type.Object({
  orderId: Type.String(),
  sagaId: Type.String(),
  status: StringEnum(ORDER_STATUSES),
  total: Type.Integer(),
  position: Type.Union([PositionOf(), Type.Null()]),
  links: Links,
});

export const OrderQuery = Type.Object({ minPosition }, { additionalProperties: false });

/** The order_summary read model (src/projections/queries.ts OrderSummary). */
export const OrderView = Type.Object({
  orderId: Type.String(),
  customerId: Type.String(),
  paymentAccountId: Type.String(),
  status: StringEnum(ORDER_STATUSES),
  lines: Type.Array(
    Type.Object({ sku: Type.String(), quantity: Type.Integer(), unitPrice: Type.Integer() }),
  ),
  total: Type.Integer(),
  sagaId: Type.String(),
  failureReason: NullableString(),
  timeline: Type.Array(Type.Object({ status: StringEnum(ORDER_STATUSES), at: Type.String() })),
  placedAt: Type.String(),
  updatedAt: Type.String(),
  version: Type.Integer(),
  lastPosition: PositionOf(),
});

export const ListOrdersQuery = Type.Object(
  {
    customerId: Type.Optional(Id('Only this customer')),
    status: Type.Optional(StringEnum(ORDER_STATUSES)),
    limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
    cursor: Type.Optional(
      Type.String({
        pattern: ORDER_CURSOR_PATTERN,
        description: "A page's nextCursor: <placedAt in µs>.<orderId>, the last order seen",
      }),
    ),
  },
  { additionalProperties: false },
);

export const OrderList = Type.Object({
  items: Type.Array(OrderView),
  nextCursor: NullableString(),
});

export const SagaView = Type.Object(
  {
    sagaId: Type.String(),
    runId: Type.Optional(Type.String()),
    workflowStatus: StringEnum(WORKFLOW_EXECUTION_STATUSES, {
      description: 'Temporal execution status (RUNNING, COMPLETED, ...)',
    }),
    sagaType: Type.Optional(StringEnum(SAGA_TYPES)),
    status: Type.Optional(StringEnum([...ORDER_SAGA_STATUSES, ...TRANSFER_SAGA_STATUSES])),
    outcome: Type.Optional(StringEnum(SAGA_OUTCOMES)),
    currentStep: Type.Optional(NullableString()),
    completedSteps: Type.Optional(Type.Array(Type.String())),
    compensationsRegistered: Type.Optional(Type.Array(Type.String())),
    compensationsRun: Type.Optional(Type.Array(Type.String())),
    failingCompensation: Type.Optional(NullableString()),
    failingStep: Type.Optional(NullableString()),
    failureReason: Type.Optional(NullableString()),
    businessId: Type.Optional(Type.String()),
    cancelRefusedReason: Type.Optional(NullableString()),
    temporalUiUrl: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const ApproveBody = Type.Union([
  Type.Object(
    {
      approvedBy: Type.Optional({
        ...Text(200),
        description: 'Ignored: the authenticated principal is recorded as the approver',
      }),
    },
    { additionalProperties: false },
  ),
  Type.Null(),
]);

export const CancelBody = Type.Union([
  Type.Object(
    {
      reasonCode: Type.Optional(
        Type.Union(
          CANCEL_REASON_CODES.map((code) => Type.Literal(code)),
          { description: 'Why the order is cancelled (default CUSTOMER_REQUEST)' },
        ),
      ),
      reason: Type.Optional({
        ...Text(500),
        description: 'Ignored and never stored: free text does not enter sagas or events',
      }),
    },
    { additionalProperties: false },
  ),
  Type.Null(),
]);

export const SignalAccepted = Type.Object({
  orderId: Type.String(),
  sagaId: Type.String(),
  accepted: Type.Boolean(),
});

/** Personal data: served only on request, and "[erased]" once the customer was erased. */
export const ShippingAddressView = Type.Object({
  orderId: Type.String(),
  shippingAddress: Type.Object({
    name: Type.String(),
    line1: Type.String(),
    city: Type.String(),
    postalCode: Type.String(),
    country: Type.String(),
  }),
  erased: Type.Boolean(),
});
