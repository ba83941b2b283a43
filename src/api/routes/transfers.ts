import { randomUUID } from 'node:crypto';
import { startTransferSaga } from '../../application/sagaStarter';
import { deterministicId } from '../../eventstore';
import { transferSagaId } from '../../sagas/sagaIds';
import type { TransferSagaStatus } from '../../../workflows/definitions';
import type { RoutePlugin } from '../context';
import { HttpProblem, notFound } from '../plugins/problem';
import { readAtLeast } from '../readYourWrites';
import { sagaReport, type SagaReport } from '../sagas';
import { commandReply } from '../plugins/idempotency';
import { IdempotencyHeaders, problems } from '../schemas/common';
import {
  TransferAccepted,
  TransferBody,
  TransferParams,
  TransferQuery,
  TransferView,
} from '../schemas/transfers';

/** The saga's part of a transfer's view: its status (the read model's wins), report and UI link. */
function sagaFields({ temporalUiUrl, ...saga }: SagaReport<TransferSagaStatus>) {
  return {
    ...(saga.status !== undefined && { status: saga.status }),
    saga,
    ...(temporalUiUrl !== undefined && { temporalUiUrl }),
  };
}

export const transferRoutes: RoutePlugin = async (app, { deps, starter, reads, options }) => {
  app.post(
    '/transfers',
    {
      schema: {
        tags: ['transfers'],
        summary: 'Move money between accounts (starts a transfer saga)',
        headers: IdempotencyHeaders,
        body: TransferBody,
        response: { 202: TransferAccepted, ...problems(409) },
      },
    },
    async (request, reply) => {
      const body = request.body;
      if (body.fromAccountId === body.toAccountId) {
        throw new HttpProblem(400, 'Bad Request', 'Source and target accounts must differ', {
          code: 'SAME_ACCOUNT',
          errors: [{ field: 'toAccountId', in: 'body', message: 'must differ from fromAccountId' }],
        });
      }
      return app.idempotency.run(request, reply, async ({ scopedKey }) => {
        const transferId = scopedKey ? deterministicId('transfer', scopedKey) : randomUUID();
        const started = await startTransferSaga(starter, {
          transferId,
          fromAccountId: body.fromAccountId,
          toAccountId: body.toAccountId,
          amount: body.amount,
          correlationId: request.id,
        });
        return commandReply(202, {
          transferId,
          sagaId: started.sagaId,
          status: 'REQUESTED',
          links: { self: `/transfers/${transferId}` },
        });
      });
    },
  );

  app.get(
    '/transfers/:id',
    {
      schema: {
        tags: ['transfers'],
        summary: 'A transfer: its read model and its saga',
        params: TransferParams,
        querystring: TransferQuery,
        response: { 200: TransferView, ...problems(404) },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const sagaId = transferSagaId(id);
      const [row, saga] = await Promise.all([
        readAtLeast(
          () => reads.read(({ pool }) => deps.readModels.getTransferSummary(pool, id)),
          request.query.minPosition,
          options.readWaitMs,
          reply,
        ),
        sagaReport<TransferSagaStatus>(deps.temporal, deps.config, sagaId),
      ]);
      if (!row && !saga) throw notFound('Transfer', id);
      return { transferId: id, sagaId, ...(saga && sagaFields(saga)), ...row };
    },
  );
};
