/**
 * Jest on Node 20 cannot require ES modules (it can from Node 24.9), and a few of
 * Fastify's dependencies are ESM-only: `cookie` (light-my-request, i.e. app.inject) and
 * `content-disposition` (@fastify/static under Swagger UI). Node itself loads them with
 * require(), so we hand Jest the modules Node's own loader returns. Import this module
 * before anything that loads Fastify.
 */
function mockNodeLoad(id: string): unknown {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- Jest factory: runs lazily
  const nodeModule = require('node:module') as {
    _load(request: string, parent: unknown): unknown;
  };
  return nodeModule._load(require.resolve(id), null);
}

jest.mock('cookie', () => mockNodeLoad('cookie'));
jest.mock('content-disposition', () => mockNodeLoad('content-disposition'));

export {};
