import type { FastifyPluginAsync, RawServerDefault } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { DirectCommands } from '../application/directCommands';
import type { SagaStarterDependencies } from '../application/sagaStarter';
import type { ReadSide } from '../infra/readReplica';
import type { Metrics } from '../observability/metrics';
import type { AppDeps, AppOptions } from './deps';

/** What every route plugin receives. */
export interface RouteContext {
  deps: AppDeps;
  direct: DirectCommands;
  starter: SagaStarterDependencies;
  metrics: Metrics;
  /** Read-model queries and event feeds run here (deps.reads, or the primary). */
  reads: ReadSide;
  options: Required<Omit<AppOptions, 'logger' | 'bodyLimit' | 'swaggerUi'>>;
}

export type RoutePlugin = FastifyPluginAsync<RouteContext, RawServerDefault, TypeBoxTypeProvider>;
