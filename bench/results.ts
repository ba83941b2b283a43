import fs from 'node:fs/promises';
import path from 'node:path';
import type { BenchEntries, BenchEntry } from './support/suite';

export const RESULTS_FILE = path.join(__dirname, 'results', 'latest.json');

export interface StoredEntry extends BenchEntry {
  suite: string;
  measuredAt: string;
}

export type StoredResults = Record<string, StoredEntry>;

async function readExisting(file: string): Promise<StoredResults> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
      return parsed as StoredResults;
    }
  } catch {
    // fall through: an unreadable file is replaced rather than failing the run
  }
  process.stderr.write(`warning: ${file} was not a JSON object; starting it afresh\n`);
  return {};
}

/**
 * Merges a suite's entries into the results file: entries of the same name are replaced,
 * every other entry (from other suites or earlier runs) is kept.
 */
export async function mergeResults(
  suite: string,
  entries: BenchEntries,
  file: string = RESULTS_FILE,
): Promise<StoredResults> {
  const merged = await readExisting(file);
  const measuredAt = new Date().toISOString();
  for (const [name, entry] of Object.entries(entries)) {
    merged[name] = { ...entry, suite, measuredAt };
  }
  const sorted: StoredResults = Object.fromEntries(
    Object.entries(merged).sort(([a], [b]) => a.localeCompare(b)),
  );
  await fs.mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  await fs.writeFile(temporary, `${JSON.stringify(sorted, null, 2)}\n`);
  await fs.rename(temporary, file);
  return sorted;
}
