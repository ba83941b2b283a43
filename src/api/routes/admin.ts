import type { RoutePlugin } from '../context';
import { HttpProblem, notFound } from '../plugins/problem';
import { jsonSafe } from '../readYourWrites';
import { problems } from '../schemas/common';
import { customerSubject } from '../../eventstore';
import { NotStuckOnEventError, UnknownProjectionError } from '../../projections';
import { DOMAIN_EVENT_SCHEMAS } from '../../application/eventStore';
import {
  CustomerParams,
  DeadLetter,
  DeadLetters,
  EventSchemaCatalogue,
  PersonalDataErased,
  ProjectionParams,
  ProjectionStatuses,
  RebuildAccepted,
  SkipEventBody,
} from '../schemas/admin';

/** The projections module's refusals, as problems. */
function projectionProblem(error: unknown, name: string): unknown {
  if (error instanceof UnknownProjectionError) return notFound('Projection', name);
  if (error instanceof NotStuckOnEventError) {
    return new HttpProblem(409, 'Conflict', error.message, {
      code: 'NOT_STUCK_ON_EVENT',
      errors: [{ field: 'position', in: 'body', message: error.message }],
    });
  }
  return error;
}

export const adminRoutes: RoutePlugin = async (app, { deps }) => {
  /** Rebuilds in progress, by projection name. */
  const rebuilding = new Map<string, Promise<void>>();
  app.addHook('onClose', async () => {
    await Promise.allSettled(rebuilding.values());
  });

  app.delete(
    '/customers/:id/personal-data',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: "Erase a customer's personal data (crypto-shredding: destroys their key)",
        params: CustomerParams,
        response: { 200: PersonalDataErased, ...problems() },
      },
    },
    async (request) => {
      const { id } = request.params;
      const keyExisted = await deps.eventStore.erasePersonalData(customerSubject(id));
      request.log.info({ customerId: id, keyExisted }, 'personal data erased');
      return { customerId: id, erased: true as const, keyExisted };
    },
  );

  /** Every domain event type and version with its JSON schema (what appends are checked against). */
  const eventSchemaCatalogue = (() => {
    const byType = new Map<
      string,
      {
        type: string;
        currentVersion: number;
        versions: { version: number; schema: Record<string, unknown> }[];
      }
    >();
    for (const { type, version, current, schema } of DOMAIN_EVENT_SCHEMAS.catalogue()) {
      const entry = byType.get(type) ?? { type, currentVersion: version, versions: [] };
      if (current) entry.currentVersion = version;
      // Plain JSON Schema (TypeBox's own markers are not enumerable).
      entry.versions.push({
        version,
        schema: JSON.parse(JSON.stringify(schema)) as Record<string, unknown>,
      });
      byType.set(type, entry);
    }
    return { eventTypes: [...byType.values()] };
  })();

  app.get(
    '/admin/event-schemas',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary:
          'Every domain event type and schema version with its JSON schema; appends must match the current one',
        response: { 200: EventSchemaCatalogue, ...problems() },
      },
    },
    async () => eventSchemaCatalogue,
  );

  app.get(
    '/admin/projections',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Projection checkpoints and lag',
        response: { 200: ProjectionStatuses, ...problems() },
      },
    },
    async () => {
      const [statuses, readerHoldback] = await Promise.all([
        deps.readModels.getProjectionStatuses(deps.pool),
        deps.eventStore.readerHoldback(),
      ]);
      return jsonSafe({
        projections: statuses.map((status) => ({
          ...status,
          rebuilding: rebuilding.has(status.name),
        })),
        readerHoldback,
      });
    },
  );

  app.post(
    '/admin/projections/:name/rebuild',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Rebuild a projection from the start of the log (runs in the background)',
        params: ProjectionParams,
        response: { 202: RebuildAccepted, ...problems(404, 409) },
      },
    },
    async (request, reply) => {
      const { name } = request.params;
      const statuses = await deps.readModels.getProjectionStatuses(deps.pool);
      if (!statuses.some((status) => status.name === name)) throw notFound('Projection', name);
      if (rebuilding.has(name)) {
        throw new HttpProblem(409, 'Conflict', `Projection ${name} is already being rebuilt`, {
          code: 'REBUILD_IN_PROGRESS',
        });
      }
      const log = request.log;
      const run = (async () => {
        try {
          await deps.readModels.rebuildProjection(deps.pool, name);
          log.info({ projection: name }, 'projection rebuilt');
        } catch (error) {
          log.error({ err: error, projection: name }, 'projection rebuild failed');
        } finally {
          rebuilding.delete(name);
        }
      })();
      rebuilding.set(name, run);
      return reply.code(202).send({ name, status: 'rebuilding' as const });
    },
  );

  app.post(
    '/admin/projections/:name/skip',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Skip the event a failing projection is stuck on, recording a dead letter',
        params: ProjectionParams,
        body: SkipEventBody,
        response: { 200: DeadLetter, ...problems(404, 409) },
      },
    },
    async (request) => {
      const { name } = request.params;
      const { position, reason } = request.body;
      try {
        const deadLetter = await deps.readModels.skipProjectionEvent(deps.pool, name, {
          position: BigInt(position),
          reason,
          skippedBy: request.principal.id,
        });
        request.log.warn({ projection: name, deadLetter }, 'projection event skipped');
        return deadLetter;
      } catch (error) {
        throw projectionProblem(error, name);
      }
    },
  );

  app.get(
    '/admin/projections/:name/dead-letters',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Events skipped for a projection, most recent first',
        params: ProjectionParams,
        response: { 200: DeadLetters, ...problems(404) },
      },
    },
    async (request) => {
      const { name } = request.params;
      try {
        return { deadLetters: await deps.readModels.listDeadLetters(deps.pool, name) };
      } catch (error) {
        throw projectionProblem(error, name);
      }
    },
  );
};
