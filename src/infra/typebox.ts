import { createRequire } from 'node:module';
import type * as TypeBox from '@fastify/type-provider-typebox';

/**
 * TypeBox for code outside the HTTP layer (event schemas): the builder and its compiler.
 * Loaded like src/api/schemas/typebox.ts does (TypeBox 1.x ships as ES modules only).
 */
function load<T>(specifier: string): T {
  const nodeRequire = createRequire(__filename);
  try {
    return nodeRequire(specifier) as T;
  } catch (error) {
    const nodeModule = nodeRequire('node:module') as unknown as {
      _load?: (request: string, parent: unknown) => unknown;
    };
    if (typeof nodeModule._load !== 'function') throw error;
    return nodeModule._load(nodeRequire.resolve(specifier), null) as T;
  }
}

/** One schema violation, as TypeBox reports it (JSON pointer to the field). */
export interface SchemaViolation {
  instancePath: string;
  message: string;
  keyword: string;
  params: Record<string, unknown>;
}

export interface CompiledSchema {
  Check(value: unknown): boolean;
  Errors(value: unknown): SchemaViolation[];
}

export const Type: typeof TypeBox.Type = load<typeof TypeBox>('typebox').Type;
export const Compile: (schema: TypeBox.TSchema) => CompiledSchema = load<{
  Compile: (schema: TypeBox.TSchema) => CompiledSchema;
}>('typebox/compile').Compile;
export type { Static, TSchema } from '@fastify/type-provider-typebox';
