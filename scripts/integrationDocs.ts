/**
 * `npm run integration-docs`: writes docs/asyncapi.json and records the contracts' schemas in
 * test/integration/contract-schemas.snapshot.json (what the compatibility test compares
 * against). It refuses to record a breaking change to a published contract: bump its major
 * version instead (`order.placed.v2` beside v1). `-- --accept-breaking` overrides that, for a
 * contract that was never released.
 */
import fs from 'node:fs';
import path from 'node:path';
import { format, resolveConfig } from 'prettier';
import { buildAsyncApiDocument } from '../src/integration/asyncapi';
import { breakingChanges } from '../src/integration/compatibility';
import { CONTRACTS } from '../src/integration/contracts';

const root = path.join(__dirname, '..');
export const ASYNCAPI_FILE = path.join(root, 'docs', 'asyncapi.json');
export const SNAPSHOT_FILE = path.join(
  root,
  'test',
  'integration',
  'contract-schemas.snapshot.json',
);

const acceptBreaking = process.argv.includes('--accept-breaking');
const snapshot = fs.existsSync(SNAPSHOT_FILE)
  ? (JSON.parse(fs.readFileSync(SNAPSHOT_FILE, 'utf8')) as Record<string, unknown>)
  : {};
let refused = false;
for (const contract of CONTRACTS) {
  const current = JSON.parse(JSON.stringify(contract.schema)) as unknown;
  const problems =
    contract.type in snapshot ? breakingChanges(snapshot[contract.type], current) : [];
  if (problems.length > 0 && !acceptBreaking) {
    console.error(
      `${contract.type}: breaking change, bump its major version:\n  ${problems.join('\n  ')}`,
    );
    refused = true;
    continue;
  }
  snapshot[contract.type] = current;
}
/** As `prettier --write` would leave it, so `npm run lint` passes right after. */
async function writeJson(file: string, value: unknown): Promise<void> {
  const options = await resolveConfig(file);
  fs.writeFileSync(file, await format(JSON.stringify(value), { ...options, parser: 'json' }));
}

async function main(): Promise<void> {
  await writeJson(SNAPSHOT_FILE, snapshot);
  await writeJson(ASYNCAPI_FILE, buildAsyncApiDocument());
  console.log(
    `wrote ${path.relative(root, ASYNCAPI_FILE)} and ${path.relative(root, SNAPSHOT_FILE)}`,
  );
  if (refused) process.exit(1);
}

void main();
