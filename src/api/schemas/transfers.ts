import { TRANSFER_STATUSES } from '../../domain/transfer/transfer';
import { TRANSFER_SAGA_STATUSES } from '../../../workflows/definitions';
import {
  Id,
  Links,
  MinorUnits,
  minPosition,
  NullableString,
  PositionOf,
  StringEnum,
} from './common';
import { SagaView } from './orders';
import { Type, type Static } from './typebox';

export const TransferParams = Type.Object({ id: Id('Transfer id') });

export const TransferBody = Type.Object(
  { fromAccountId: Id('Source account'), toAccountId: Id('Target account'), amount: MinorUnits() },
  { additionalProperties: false },
);
export type TransferBody = Static<typeof TransferBody>;

export const TransferAccepted = Type.Object({
  transferId: Type.String(),
  sagaId: Type.String(),
  status: StringEnum(TRANSFER_STATUSES),
  links: Links,
});

export const TransferQuery = Type.Object({ minPosition }, { additionalProperties: false });

/** The transfer_summary read model (src/projections/queries.ts TransferSummary) and its saga. */
export const TransferView = Type.Object(
  {
    transferId: Type.String(),
    sagaId: Type.String(),
    fromAccountId: Type.Optional(Type.String()),
    toAccountId: Type.Optional(Type.String()),
    amount: Type.Optional(Type.Integer()),
    reason: Type.Optional(NullableString()),
    updatedAt: Type.Optional(Type.String({ format: 'date-time' })),
    status: Type.Optional(
      StringEnum([...TRANSFER_STATUSES, ...TRANSFER_SAGA_STATUSES], {
        description: "The read model's status, else the saga's",
      }),
    ),
    version: Type.Optional(Type.Integer()),
    lastPosition: Type.Optional(PositionOf()),
    saga: Type.Optional(SagaView),
    temporalUiUrl: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
