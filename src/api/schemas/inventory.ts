import { CommandResult, Id, MinorUnits, minPosition, PositionOf } from './common';
import { Type } from './typebox';

export const SkuParams = Type.Object({ sku: Id('Stock-keeping unit') });

export const RestockBody = Type.Object(
  { quantity: MinorUnits('Positive integer quantity') },
  { additionalProperties: false },
);

export const Restocked = Type.Intersect([
  Type.Object({ sku: Type.String(), received: Type.Integer(), available: Type.Integer() }),
  CommandResult,
]);

export const InventoryQuery = Type.Object({ minPosition }, { additionalProperties: false });

export const InventoryView = Type.Object(
  {
    sku: Type.String(),
    onHand: Type.Optional(Type.Integer()),
    reserved: Type.Optional(Type.Integer()),
    available: Type.Optional(Type.Integer()),
    version: Type.Integer(),
    lastPosition: PositionOf(),
  },
  { additionalProperties: true },
);
