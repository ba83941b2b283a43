/**
 * Whether a contract's new schema can replace its published one within the same major
 * version. Consumers were written against the old one, so the new one may only add optional
 * properties: removing a property, making an optional one required (or the reverse), changing
 * a type or any constraint (bounds, pattern, enum, format) breaks someone.
 */

type Schema = Record<string, unknown>;

const CONSTRAINTS = [
  'type',
  'const',
  'enum',
  'pattern',
  'format',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'multipleOf',
];

const isSchema = (value: unknown): value is Schema =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Breaking differences from `published` to `current` ([] when compatible). */
export function breakingChanges(published: unknown, current: unknown, path = ''): string[] {
  const where = path || '(root)';
  if (!isSchema(published) || !isSchema(current)) {
    return JSON.stringify(published) === JSON.stringify(current)
      ? []
      : [`${where}: schema replaced`];
  }
  const problems: string[] = [];
  for (const keyword of CONSTRAINTS) {
    if (JSON.stringify(published[keyword]) !== JSON.stringify(current[keyword]))
      problems.push(
        `${where}: ${keyword} ${JSON.stringify(published[keyword])} -> ${JSON.stringify(current[keyword])}`,
      );
  }
  for (const keyword of ['anyOf', 'oneOf', 'allOf']) {
    if (JSON.stringify(published[keyword]) !== JSON.stringify(current[keyword]))
      problems.push(`${where}: ${keyword} changed`);
  }
  if (published.items !== undefined || current.items !== undefined)
    problems.push(...breakingChanges(published.items, current.items, `${path}[]`));
  const before = isSchema(published.properties) ? published.properties : {};
  const after = isSchema(current.properties) ? current.properties : {};
  const requiredBefore = new Set((published.required as string[] | undefined) ?? []);
  const requiredAfter = new Set((current.required as string[] | undefined) ?? []);
  for (const [name, schema] of Object.entries(before)) {
    const at = path ? `${path}.${name}` : name;
    if (!(name in after)) {
      problems.push(`${at}: removed`);
      continue;
    }
    if (requiredBefore.has(name) !== requiredAfter.has(name))
      problems.push(`${at}: ${requiredBefore.has(name) ? 'no longer required' : 'now required'}`);
    problems.push(...breakingChanges(schema, after[name], at));
  }
  for (const name of Object.keys(after)) {
    if (!(name in before) && requiredAfter.has(name))
      problems.push(`${path ? `${path}.${name}` : name}: new required property`);
  }
  return problems;
}
