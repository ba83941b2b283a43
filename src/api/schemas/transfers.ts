import { Id, Links, MinorUnits, minPosition, PositionOf } from './common';
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
  status: Type.String(),
  links: Links,
});

export const TransferQuery = Type.Object({ minPosition }, { additionalProperties: false });

export const TransferView = Type.Object(
  {
    transferId: Type.String(),
    sagaId: Type.String(),
    status: Type.Optional(Type.String()),
    version: Type.Optional(Type.Integer()),
    lastPosition: Type.Optional(PositionOf()),
    saga: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    temporalUiUrl: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);
