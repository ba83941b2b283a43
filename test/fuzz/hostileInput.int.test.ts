/**
 * Hostile input: for EVERY route of the OpenAPI document, fast-check generates malformed
 * and extreme requests (wrong types, missing and extra fields, huge/negative/fractional
 * numbers, NaN-ish strings, emoji/RTL/NUL/lone surrogates, long strings, oversized bodies,
 * invalid JSON, wrong content types, unknown ids, bad cursors, bad dates and positions,
 * path traversal). The API must never answer 5xx, every 4xx must be problem+json, and a
 * rejected request must append no event. Fixed seed, bounded runs: deterministic.
 */
import '../api/support/esmShim';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import fc from 'fast-check';
import type { FastifyInstance, InjectOptions } from 'fastify';
import ts from 'typescript';
import { buildApp } from '../../src/api/app';
import { projectionReadModels } from '../../src/api/projectionReadModels';
import { CommandHandler } from '../../src/application/commandHandler';
import { DirectCommands } from '../../src/application/directCommands';
import { loadConfig } from '../../src/config';
import { ALL_PROJECTIONS, createInlineProjector } from '../../src/projections';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';
import { connectTestTemporal, uniqueTaskQueue } from '../support/temporal';

const SEED = 20240611;
const RUNS_PER_ROUTE = 40;
const BODY_LIMIT = 64 * 1024;

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  enum?: unknown[];
  const?: unknown;
}

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  schema?: JsonSchema;
}

interface Operation {
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
}

interface Route {
  method: string;
  path: string;
  operation: Operation;
}

// ---------------------------------------------------------------------------------------
// Hostile values

const KNOWN_IDS = ['fuzz-acct', 'fuzz-sku', 'account_balance', 'merchant'];

const NASTY_STRINGS = [
  '',
  ' ',
  'NaN',
  'Infinity',
  '-Infinity',
  'undefined',
  'null',
  'true',
  '[]',
  '{}',
  '-1',
  '0',
  '-0',
  '1.5',
  '1e308',
  '1e-308',
  '0x1F',
  '9007199254740993',
  '9223372036854775807',
  '9223372036854775808',
  '99999999999999999999',
  '18446744073709551616',
  ' 1',
  '1 ',
  '😀🚀👩‍👩‍👧‍👦',
  '\u202Egnp.exe',
  'שלום עולם',
  'a\u0000b',
  '\u0000',
  '\ud800',
  'x\udfffy',
  '\uFEFF',
  '../../etc/passwd',
  '..\\..\\windows',
  '%2e%2e%2f',
  "'; DROP TABLE events; --",
  '" OR 1=1 --',
  '$1',
  '${process.exit()}',
  '__proto__',
  'constructor',
  '<script>alert(1)</script>',
  'x'.repeat(129),
  'y'.repeat(5000),
  '2024-02-30T00:00:00Z',
  '0000-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999Z',
  '+275760-09-13T00:00:00.000Z',
  '2024-06-30T23:59:60Z',
  '1969-12-31T23:59:59Z',
  'not-a-date',
];

const NASTY_NUMBERS = [
  0,
  -0,
  -1,
  0.5,
  1.5,
  -1.5,
  1e308,
  -1e308,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  2 ** 53 - 1,
  2 ** 53,
  2 ** 53 + 1,
  2 ** 63,
  2 ** 31,
  2 ** 31 - 1,
  -(2 ** 31),
  2 ** 32,
];

const nastyString = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
);
const nastyNumber = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NASTY_NUMBERS) },
  { weight: 1, arbitrary: fc.double() },
  { weight: 1, arbitrary: fc.integer() },
);
const nastyScalar: fc.Arbitrary<unknown> = fc.oneof(
  nastyString,
  nastyNumber,
  fc.boolean(),
  fc.constant(null),
);
const nastyJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: nastyScalar },
  { weight: 1, arbitrary: fc.array(nastyScalar, { maxLength: 4 }) },
  {
    weight: 1,
    arbitrary: fc.dictionary(fc.constantFrom('__proto__', 'constructor', 'a', ''), nastyScalar, {
      maxKeys: 3,
    }),
  },
);

/** A plausible valid value for a schema (so that one bad field is what gets rejected). */
function validSample(schema: JsonSchema): fc.Arbitrary<unknown> {
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) return fc.oneof(...alternatives.map(validSample));
  if (schema.allOf) return validSample(Object.assign({}, ...schema.allOf) as JsonSchema);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'integer':
    case 'number': {
      const min = schema.minimum ?? 0;
      const max = schema.maximum ?? Number.MAX_SAFE_INTEGER;
      return fc.constantFrom(min, Math.min(max, min + 1), max);
    }
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(valueFor(schema.items ?? {}), { minLength: 1, maxLength: 2 });
    case 'object':
      return objectFor(schema);
    default:
      break;
  }
  if (schema.pattern === '^[A-Z]{2}$') return fc.constantFrom('GB', 'XX', 'KP');
  if (schema.pattern?.includes('[0-9]{1,19}'))
    return fc.constantFrom('0', '1', '9223372036854775807', '9999999999999999999');
  if (schema.pattern?.includes('A-Z_')) return fc.constantFrom('PLACED', 'COMPLETED', 'NOPE_X');
  if (schema.format === 'date-time')
    return fc.constantFrom('2024-01-01T00:00:00Z', '2999-01-01T00:00:00.000Z');
  if (schema.pattern) return fc.constantFrom(...KNOWN_IDS, 'unknown-id-42', `a${'b'.repeat(127)}`);
  return fc.constantFrom('text', 'x'.repeat(schema.maxLength ?? 10));
}

/** Valid-ish or hostile, per the schema. */
function valueFor(schema: JsonSchema): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 2, arbitrary: validSample(schema) },
    { weight: 1, arbitrary: nastyJson },
  );
}

/** An object per the schema with fields dropped, perturbed, and extra ones added. */
function objectFor(schema: JsonSchema): fc.Arbitrary<Record<string, unknown>> {
  const properties = Object.entries(schema.properties ?? {});
  const fields = Object.fromEntries(
    properties.map(([name, child]) => [
      name,
      fc.option(valueFor(child), { nil: undefined, freq: 6 }),
    ]),
  );
  return fc
    .tuple(
      fc.record(fields),
      fc.option(fc.tuple(fc.constantFrom('extra', '__proto__', 'amount ', 'AMOUNT'), nastyScalar), {
        freq: 4,
      }),
    )
    .map(([record, extra]) => {
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(record)) if (value !== undefined) out[key] = value;
      if (extra) Object.defineProperty(out, extra[0], { value: extra[1], enumerable: true });
      return out;
    });
}

/** Text for a path/query/header slot. */
function textFor(schema: JsonSchema | undefined): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 2, arbitrary: validSample(schema ?? {}).map((v) => String(v)) },
    { weight: 3, arbitrary: nastyString },
  );
}

function cursorOf(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

/** Cursors that decode (and some that do not). */
const badCursor = fc.constantFrom(
  'not base64!',
  '!!!!',
  cursorOf({ p: '99999999999999999999', o: 'x' }),
  cursorOf({ p: '9223372036854775807', o: 'x' }),
  cursorOf({ p: '-9223372036854775808', o: 'x' }),
  cursorOf({ p: '1', o: 'a\u0000b' }),
  cursorOf({ p: '1', o: '\ud800' }),
  cursorOf({ p: 1, o: 'x' }),
  cursorOf([]),
  cursorOf('x'),
  Buffer.from('{"p":"1","o":').toString('base64url'),
);

type Body =
  | { kind: 'none' }
  | { kind: 'json'; value: unknown }
  | { kind: 'raw'; contentType: string; payload: string | Buffer };

function bodyFor(schema: JsonSchema | undefined): fc.Arbitrary<Body> {
  const json = schema ? valueFor(schema) : nastyJson;
  return fc.oneof(
    { weight: 6, arbitrary: json.map((value): Body => ({ kind: 'json', value })) },
    { weight: 1, arbitrary: fc.constant<Body>({ kind: 'none' }) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(
          '{',
          '{"amount":',
          '[1,2',
          'nul',
          '{"a":1}}',
          '\u0000',
          '{"amount":1e999}',
          "{'a':1}",
        )
        .map((payload): Body => ({ kind: 'raw', contentType: 'application/json', payload })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom(
            'text/plain',
            'application/x-www-form-urlencoded',
            'multipart/form-data; boundary=xyz',
            'application/xml',
            'application/json; charset=utf-16',
            'application/problem+json',
            'application/jsonx',
            '*/*',
          ),
          fc.constantFrom('amount=1', '{"amount":1}', '<a/>'),
        )
        .map(([contentType, payload]): Body => ({ kind: 'raw', contentType, payload })),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom<Body>(
        // Over the body limit: valid JSON, and one big string.
        {
          kind: 'raw',
          contentType: 'application/json',
          payload: JSON.stringify({ amount: 1, pad: 'x'.repeat(BODY_LIMIT + 10) }),
        },
        {
          kind: 'raw',
          contentType: 'application/json',
          payload: `[${'1,'.repeat(BODY_LIMIT)}1]`,
        },
        // Invalid UTF-8 and deep nesting.
        {
          kind: 'raw',
          contentType: 'application/json',
          payload: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]),
        },
        {
          kind: 'raw',
          contentType: 'application/json',
          payload: '['.repeat(5000) + ']'.repeat(5000),
        },
        {
          kind: 'raw',
          contentType: 'application/json',
          payload: '{"amount":1,"amount":"1","__proto__":{"x":1}}',
        },
      ),
    },
  );
}

/** Raw path segments that are not simply an encoded value. */
const RAW_SEGMENTS = [
  '..',
  '.',
  '%2e%2e',
  '..%2f..%2fadmin',
  '%ZZ',
  '%00',
  '%u0000',
  'a%2Fb',
  '%F0%9F%98%80',
  '%C0%AF',
];

function requestFor(route: Route): fc.Arbitrary<InjectOptions> {
  const params = route.operation.parameters ?? [];
  const pathParams = params.filter((p) => p.in === 'path');
  const queryParams = params.filter((p) => p.in === 'query');
  const bodySchema = route.operation.requestBody?.content?.['application/json']?.schema;
  const hasBody = route.method !== 'get' && route.method !== 'head';

  const pathValues = fc.tuple(
    ...pathParams.map((p) =>
      fc.oneof(
        { weight: 4, arbitrary: textFor(p.schema).map(percentEncode) },
        { weight: 1, arbitrary: fc.constantFrom(...RAW_SEGMENTS) },
      ),
    ),
  );
  const query = fc.array(
    fc.oneof(
      {
        weight: 4,
        arbitrary: queryParams.length
          ? fc
              .constantFrom(...queryParams)
              .chain((p) =>
                (p.name === 'cursor'
                  ? fc.oneof(badCursor, textFor(p.schema))
                  : textFor(p.schema)
                ).map((v) => [p.name, v] as const),
              )
          : fc.constant(['x', '1'] as const),
      },
      {
        weight: 1,
        arbitrary: fc.tuple(fc.constantFrom('extra', '__proto__', 'limit[]'), nastyString),
      },
    ),
    { maxLength: 4 },
  );
  const headers = fc.record(
    {
      'idempotency-key': fc.constantFrom('k', 'k'.repeat(201), 'k'.repeat(5000), ' ', 'ключ', '😀'),
      accept: fc.constantFrom('application/json', '*/*', 'text/html', 'application/xml', ''),
      // SSE only with a Last-Event-ID that must be refused before the stream opens.
      sse: fc.constantFrom('abc', '-1', '1.5', '99999999999999999999', ' 1'),
    },
    { requiredKeys: [] },
  );
  const body = hasBody ? bodyFor(bodySchema) : fc.constant<Body>({ kind: 'none' });

  return fc.tuple(pathValues, query, headers, body).map(([values, pairs, h, b]) => {
    let url = route.path;
    pathParams.forEach((p, i) => {
      url = url.replace(`{${p.name}}`, values[i] ?? '');
    });
    if (pairs.length > 0) {
      url += `?${pairs.map(([k, v]) => `${percentEncode(k)}=${percentEncode(String(v))}`).join('&')}`;
    }
    const requestHeaders: Record<string, string> = {};
    if (h['idempotency-key'] !== undefined)
      requestHeaders['idempotency-key'] = encodeHeader(h['idempotency-key']);
    if (h.accept !== undefined) requestHeaders.accept = h.accept;
    if (h.sse !== undefined && route.path === '/events') {
      requestHeaders.accept = 'text/event-stream';
      requestHeaders['last-event-id'] = h.sse;
    }
    const options: InjectOptions = {
      method: route.method.toUpperCase(),
      url,
      headers: requestHeaders,
    };
    if (b.kind === 'json') {
      options.payload = JSON.stringify(b.value) ?? 'null';
      requestHeaders['content-type'] = 'application/json';
    } else if (b.kind === 'raw') {
      options.payload = b.payload;
      requestHeaders['content-type'] = b.contentType;
    }
    return options;
  });
}

/**
 * encodeURIComponent, except that a lone surrogate (which it refuses) is sent as its WTF-8
 * bytes (%ED%A0%80): invalid UTF-8, as a hostile client would send it.
 */
function percentEncode(value: string): string {
  let out = '';
  for (const char of value) {
    const code = char.codePointAt(0) ?? 0;
    if (code >= 0xd800 && code <= 0xdfff) {
      out += [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)]
        .map((byte) => `%${byte.toString(16).toUpperCase()}`)
        .join('');
    } else {
      out += encodeURIComponent(char);
    }
  }
  return out;
}

/** Header values must be latin-1 on the wire; send what a client's bytes would look like. */
function encodeHeader(value: string): string {
  return Buffer.from(value, 'utf8').toString('latin1');
}

const urlOf = (request: InjectOptions): string =>
  typeof request.url === 'string' ? request.url : JSON.stringify(request.url);
const payloadOf = (request: InjectOptions): string =>
  typeof request.payload === 'string'
    ? request.payload
    : Buffer.isBuffer(request.payload)
      ? request.payload.toString('hex')
      : (JSON.stringify(request.payload) ?? '');

/**
 * Product bugs this test found, tolerated until fixed (each is in the hand-back report):
 * remove an entry once its fix lands, and the test guards it from then on.
 */
/**
 * Responses that break the rules but are known bugs awaiting a fix. Empty: every bug the
 * fuzzer found (unchecked cursor values, versions beyond int4, positions beyond bigint,
 * router errors outside problem+json) is fixed, and an entry here needs a reason.
 */
const KNOWN_PRODUCT_BUGS: Array<{
  name: string;
  matches: (request: InjectOptions, status: number, body: string) => boolean;
}> = [];

// ---------------------------------------------------------------------------------------

describe('hostile input', () => {
  let db: TestDatabase;
  let env: TestWorkflowEnvironment;
  let app: FastifyInstance;
  const statuses = new Map<string, Map<number, number>>();

  const eventCount = async () =>
    Number((await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM events')).rows[0]?.n);

  beforeAll(async () => {
    db = await createTestDatabase('fuzz');
    env = await connectTestTemporal();
    const config = loadConfig({
      TEMPORAL_TASK_QUEUE: uniqueTaskQueue('fuzz'),
      LOG_LEVEL: 'silent',
      DELIVERY_CONFIRMATION: 'none',
    });
    const commands = new CommandHandler(db.eventStore, {
      afterAppend: createInlineProjector(db.pool, ALL_PROJECTIONS, () => {}),
    });
    const direct = new DirectCommands(commands);
    await direct.openAccount(
      { accountId: 'fuzz-acct', ownerId: 'owner', initialDeposit: 1000 },
      { commandId: 'fuzz/open' },
    );
    await direct.restock(
      { sku: 'fuzz-sku', quantity: 10, reference: 'fuzz-restock' },
      { commandId: 'fuzz/restock' },
    );
    app = buildApp(
      {
        pool: db.pool,
        eventStore: db.eventStore,
        commands,
        temporal: env.client,
        config,
        readModels: projectionReadModels(db.eventStore),
      },
      { logger: false, swaggerUi: false, readWaitMs: 20, ssePollMs: 20, bodyLimit: BODY_LIMIT },
    );
    await app.ready();
  });

  afterAll(async () => {
    await app?.close();
    await env?.teardown();
    await db?.drop();
  });

  it('never answers 5xx, answers every 4xx as problem+json, and rejected requests append nothing', async () => {
    type Spec = { paths: Record<string, Record<string, Operation>> };
    const docs = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(docs.statusCode).toBe(200);
    const spec = docs.json<Spec>();
    const routes: Route[] = Object.entries(spec.paths).flatMap(([p, methods]) =>
      Object.entries(methods)
        .filter(([method]) => ['get', 'post', 'put', 'patch', 'delete'].includes(method))
        .map(([method, operation]) => ({ method, path: p, operation })),
    );
    expect(routes.length).toBeGreaterThanOrEqual(15);

    // Every violation is collected (fuzzing goes on), so one run lists them all.
    const failures: string[] = [];
    const tolerated: string[] = [];
    for (const route of routes) {
      const key = `${route.method.toUpperCase()} ${route.path}`;
      const seen = new Map<number, number>();
      statuses.set(key, seen);
      await fc.assert(
        fc.asyncProperty(requestFor(route), async (request) => {
          const before = await eventCount();
          const response = await app.inject(request);
          const after = await eventCount();
          seen.set(response.statusCode, (seen.get(response.statusCode) ?? 0) + 1);
          const where = `${key}: ${request.method} ${urlOf(request).slice(0, 200)} ${JSON.stringify(request.headers)} body=${payloadOf(request).slice(0, 200)}`;
          const problemJson = /^application\/problem\+json/.test(
            String(response.headers['content-type']),
          );
          let problem: { type?: unknown; title?: unknown; status?: unknown } = {};
          try {
            problem = response.json();
          } catch {
            // not JSON: reported below
          }
          const violation =
            response.statusCode >= 500
              ? `${response.statusCode}`
              : response.statusCode >= 400 && !problemJson
                ? `${response.statusCode} as ${String(response.headers['content-type'])}`
                : response.statusCode >= 400 &&
                    (typeof problem.type !== 'string' ||
                      typeof problem.title !== 'string' ||
                      problem.status !== response.statusCode)
                  ? `${response.statusCode} without type/title/status`
                  : response.statusCode >= 400 && after !== before
                    ? `${response.statusCode} but appended ${after - before} event(s)`
                    : undefined;
          if (violation) {
            const known = KNOWN_PRODUCT_BUGS.find((bug) =>
              bug.matches(request, response.statusCode, response.body),
            );
            (known ? tolerated : failures).push(
              `${violation}${known ? ` [known: ${known.name}]` : ''} ← ${where} → ${response.body.slice(0, 300)}`,
            );
          }
        }),
        { seed: SEED, numRuns: RUNS_PER_ROUTE, endOnFailure: true },
      );
    }

    // The store's invariants after everything.
    const negative = await db.pool.query(
      'SELECT account_id, balance FROM account_balance WHERE balance < 0',
    );
    expect(negative.rows).toEqual([]);
    const unbalanced = await db.pool.query(
      'SELECT sku FROM inventory_level WHERE available + reserved + committed <> received OR available < 0',
    );
    expect(unbalanced.rows).toEqual([]);
    const streams = await db.pool.query(
      `SELECT stream_id FROM events GROUP BY stream_id HAVING max(version) <> count(*) OR min(version) <> 1`,
    );
    expect(streams.rows).toEqual([]);

    console.log(
      `hostile input: ${routes.length} routes × ${RUNS_PER_ROUTE} runs\n` +
        [...statuses]
          .map(([route, s]) => `  ${route}: ${JSON.stringify(Object.fromEntries(s))}`)
          .join('\n'),
    );
    if (tolerated.length > 0) console.warn(`known product bugs hit:\n${tolerated.join('\n')}`);
    expect(failures).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------
// Static check: SQL is parameterized.

/** Interpolations in SQL text that are compile-time identifiers or fixed SQL fragments. */
const ALLOWED_INTERPOLATIONS = [
  /^[A-Z][A-Z0-9_]*$/, // module constants: EVENT_COLUMNS, ORDER_COLUMNS, EVENTS_CHANNEL
  /^table$/, // a projection's generation table: generationTable() validates the identifier
  /^projection\.name$/, // projection names are code constants (assertProjectionName)
  /^generationTable\([^)]*\)$/,
  /^inbox\.table$/, // a consumer's inbox table: a code constant (src/messaging/inbox.ts)
  /^\w+ \? '[^'$]*' : '[^'$]*'$/, // a choice between two fixed fragments
  /^sql\.\w+$/, // a read model's statement fragments: its declared columns, checked (keyedRows.ts sqlOf)
  /^rows\.column$/, // a projection's streamRows column: checked as an identifier (rebuildStreams.ts)
  /^selection\.into$/, // a scratch table: refused unless a safe identifier (scratchReplay.ts)
  /^\w+\.escapeLiteral\(/, // pg's literal escaping, where SQL takes no parameter (COMMENT ON)
  /^inSegmentSql\('\$\d+', '\$\d+'\)$/, // a fixed fragment over placeholders (readAll.ts)
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return full.endsWith('.ts') ? [full] : [];
  });
}

function sqlInterpolations(file: string): Array<{ line: number; expression: string }> {
  const text = readFileSync(file, 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const templates = new Map<string, ts.TemplateExpression>();
  const found: Array<{ line: number; expression: string }> = [];
  const visit = (node: ts.Node) => {
    // `const sql = \`...${x}...\`` later passed by name.
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer) {
      if (ts.isTemplateExpression(node.initializer))
        templates.set(node.name.text, node.initializer);
    }
    if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      node.expression.name.text === 'query' &&
      node.arguments[0]
    ) {
      const first = node.arguments[0];
      const template = ts.isTemplateExpression(first)
        ? first
        : ts.isIdentifier(first)
          ? templates.get(first.text)
          : undefined;
      for (const span of template?.templateSpans ?? []) {
        const expression = span.expression.getText(source);
        if (!ALLOWED_INTERPOLATIONS.some((allowed) => allowed.test(expression))) {
          found.push({
            line: source.getLineAndCharacterOfPosition(span.getStart(source)).line + 1,
            expression,
          });
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('SQL is parameterized', () => {
  it('interpolates only compile-time identifiers into SQL text passed to .query()', () => {
    const root = path.resolve(__dirname, '../../src');
    const findings = sourceFiles(root).flatMap((file) =>
      sqlInterpolations(file).map(
        (f) => `${path.relative(root, file)}:${f.line}: \${${f.expression}}`,
      ),
    );
    expect(findings).toEqual([]);
  });
});
