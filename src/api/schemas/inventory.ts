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

/** The inventory_level read model (src/projections/queries.ts InventoryLevel). */
export const InventoryView = Type.Object(
  {
    sku: Type.String(),
    available: Type.Integer({ description: 'Free to reserve' }),
    reserved: Type.Integer({ description: 'Held for orders not yet dispatched' }),
    committed: Type.Integer({ description: 'Taken by dispatched orders' }),
    received: Type.Integer({ description: 'Restocked in all (available + reserved + committed)' }),
    version: Type.Integer(),
    lastPosition: PositionOf(),
  },
  { additionalProperties: false },
);
