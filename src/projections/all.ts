import { accountBalanceProjection } from './readModels/accountBalance';
import { inventoryLevelProjection } from './readModels/inventoryLevel';
import { orderSummaryProjection } from './readModels/orderSummary';
import { transferSummaryProjection } from './readModels/transferSummary';
import type { Projection } from './types';

export const ALL_PROJECTIONS: readonly Projection[] = [
  orderSummaryProjection,
  accountBalanceProjection,
  inventoryLevelProjection,
  transferSummaryProjection,
];
