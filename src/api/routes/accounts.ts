import { randomUUID } from 'node:crypto';
import {
  accountDecider,
  initialAccountState,
  type AccountEvent,
  type AccountState,
} from '../../domain/account';
import { deterministicId } from '../../eventstore';
import type { RoutePlugin } from '../context';
import { HttpProblem, notFound } from '../plugins/problem';
import { readAtLeast } from '../readYourWrites';
import {
  AccountOpened,
  AccountParams,
  AccountQuery,
  AccountView,
  DepositBody,
  DepositResult,
  OpenAccountBody,
} from '../schemas/accounts';
import { commandReply } from '../plugins/idempotency';
import { IdempotencyHeaders, problems } from '../schemas/common';

const position = (value: bigint | undefined) => (value === undefined ? null : value.toString());

export const accountRoutes: RoutePlugin = async (app, { deps, direct, reads, options }) => {
  app.post(
    '/accounts',
    {
      schema: {
        tags: ['accounts'],
        summary: 'Open an account',
        headers: IdempotencyHeaders,
        body: OpenAccountBody,
        response: { 201: AccountOpened, ...problems(409) },
      },
    },
    async (request, reply) =>
      app.idempotency.run(request, reply, async ({ scopedKey }) => {
        const accountId =
          request.body.accountId ??
          (scopedKey ? deterministicId('account', scopedKey) : randomUUID());
        const result = await direct.openAccount(
          { accountId, ownerId: request.body.ownerId, initialDeposit: request.body.initialDeposit },
          // A retry (same key) is the same command; anything else is new, so a taken id is a 409.
          {
            commandId: scopedKey ? deterministicId('open-account', scopedKey) : randomUUID(),
            correlationId: request.id,
          },
        );
        return commandReply(201, {
          accountId,
          version: result.version,
          position: position(result.lastPosition),
        });
      }),
  );

  app.post(
    '/accounts/:id/deposits',
    {
      schema: {
        tags: ['accounts'],
        summary: 'Deposit funds (201 when new, 200 when an earlier identical request already did)',
        headers: IdempotencyHeaders,
        params: AccountParams,
        body: DepositBody,
        response: { 200: DepositResult, 201: DepositResult, ...problems(404, 409) },
      },
    },
    async (request, reply) =>
      app.idempotency.run(request, reply, async ({ scopedKey }) => {
        const commandId = scopedKey ? deterministicId('deposit', scopedKey) : randomUUID();
        const reference = `api-deposit/${commandId}`;
        const result = await direct.deposit(
          { accountId: request.params.id, amount: request.body.amount, reference },
          { commandId, correlationId: request.id },
        );
        const state = result.state as AccountState;
        return commandReply(result.alreadyApplied ? 200 : 201, {
          accountId: request.params.id,
          balance: state.status === 'NONE' ? 0 : state.balance,
          reference,
          version: result.version,
          position: position(result.lastPosition),
        });
      }),
  );

  app.get(
    '/accounts/:id',
    {
      schema: {
        tags: ['accounts'],
        summary: 'An account; with ?at= as it was at that instant (time travel)',
        params: AccountParams,
        querystring: AccountQuery,
        response: { 200: AccountView, ...problems(404) },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const { at, minPosition } = request.query;
      if (at !== undefined) {
        const instant = new Date(at);
        if (Number.isNaN(instant.getTime())) {
          throw new HttpProblem(400, 'Bad Request', 'at must be an ISO-8601 date-time', {
            code: 'VALIDATION',
            errors: [{ field: 'at', in: 'querystring', message: 'must be an ISO-8601 date-time' }],
          });
        }
        const events = await reads.read(({ eventStore }) =>
          eventStore.readStream(accountDecider.streamId(id), { at: instant }),
        );
        const state = events.reduce(
          (s, e) => accountDecider.evolve(s, { type: e.type, data: e.data } as AccountEvent),
          initialAccountState(),
        );
        const last = events[events.length - 1];
        if (state.status === 'NONE' || !last)
          throw notFound(`Account ${id} at`, instant.toISOString());
        return {
          accountId: id,
          ownerId: state.ownerId,
          status: state.status,
          balance: state.balance,
          version: last.version,
          lastPosition: last.globalPosition.toString(),
          asOf: instant.toISOString(),
        };
      }
      const row = await readAtLeast(
        () => reads.read(({ pool }) => deps.readModels.getAccountBalance(pool, id)),
        minPosition,
        options.readWaitMs,
        reply,
      );
      if (!row) throw notFound('Account', id);
      return row;
    },
  );
};
