import { randomUUID } from 'node:crypto';
import type { InventoryItemState } from '../../domain/inventory';
import { deterministicId } from '../../eventstore';
import type { RoutePlugin } from '../context';
import { notFound } from '../plugins/problem';
import { readAtLeast } from '../readYourWrites';
import { commandReply } from '../plugins/idempotency';
import { IdempotencyHeaders, problems } from '../schemas/common';
import {
  InventoryQuery,
  InventoryView,
  RestockBody,
  Restocked,
  SkuParams,
} from '../schemas/inventory';

export const inventoryRoutes: RoutePlugin = async (app, { deps, direct, reads, options }) => {
  app.post(
    '/inventory/:sku/restock',
    {
      schema: {
        tags: ['inventory'],
        summary: 'Add stock (201 when new, 200 when an earlier identical request already did)',
        headers: IdempotencyHeaders,
        params: SkuParams,
        body: RestockBody,
        response: { 200: Restocked, 201: Restocked, ...problems(409) },
      },
    },
    async (request, reply) =>
      app.idempotency.run(request, reply, async ({ scopedKey }) => {
        const commandId = scopedKey ? deterministicId('restock', scopedKey) : randomUUID();
        const result = await direct.restock(
          {
            sku: request.params.sku,
            quantity: request.body.quantity,
            reference: `api-restock/${commandId}`,
          },
          { commandId, correlationId: request.id },
        );
        const state = result.state as InventoryItemState;
        return commandReply(result.alreadyApplied ? 200 : 201, {
          sku: request.params.sku,
          received: state.received,
          available: state.available,
          version: result.version,
          position: result.lastPosition?.toString() ?? null,
        });
      }),
  );

  app.get(
    '/inventory/:sku',
    {
      schema: {
        tags: ['inventory'],
        summary: 'Stock level of one SKU (read model)',
        params: SkuParams,
        querystring: InventoryQuery,
        response: { 200: InventoryView, ...problems(404) },
      },
    },
    async (request, reply) => {
      const { sku } = request.params;
      const row = await readAtLeast(
        () => reads.read(({ pool }) => deps.readModels.getInventoryLevel(pool, sku)),
        request.query.minPosition,
        options.readWaitMs,
        reply,
      );
      if (!row) throw notFound('SKU', sku);
      return row;
    },
  );
};
