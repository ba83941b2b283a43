import { createRequire } from 'node:module';
import type * as TypeBox from '@fastify/type-provider-typebox';

/**
 * TypeBox 1.x ships as ES modules only. Node ≥ 20.19 loads it with require(), but a
 * CommonJS TypeScript file may not `import` it (TS1479), so we require it at runtime and
 * take the types from the Fastify type provider, which re-exports them.
 *
 * Jest on Node 20 replaces require (and createRequire) with a loader that cannot load ES
 * modules; there we fall back to Node's own loader. Drop the fallback once the tests run
 * on Node ≥ 24.9 or Jest transforms typebox.
 */
function loadTypeBox(): typeof TypeBox {
  const nodeRequire = createRequire(__filename);
  try {
    return nodeRequire('typebox') as typeof TypeBox;
  } catch (error) {
    const nodeModule = nodeRequire('node:module') as unknown as {
      _load?: (request: string, parent: unknown) => unknown;
    };
    if (typeof nodeModule._load !== 'function') throw error;
    return nodeModule._load(nodeRequire.resolve('typebox'), null) as typeof TypeBox;
  }
}

const typebox = loadTypeBox();

export const Type: typeof TypeBox.Type = typebox.Type;
export type { Static, TSchema } from '@fastify/type-provider-typebox';
