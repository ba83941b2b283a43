import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { SqlExecutor } from '../schema/executor';
import type { NewEvent, RecordedEvent } from '../types';
import { ERASED, type PersonalDataPolicy } from './policy';

/** How an encrypted field is stored inside an event's JSON data. */
interface SealedField {
  $pii: 1;
  subject: string;
  iv: string;
  tag: string;
  data: string;
}

const isSealed = (value: unknown): value is SealedField =>
  typeof value === 'object' && value !== null && (value as { $pii?: unknown }).$pii === 1;

function getPath(data: Record<string, unknown>, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], data);
}

/** Returns a copy of `data` with the value at `path` replaced (copying only the objects on the way). */
function setPath(
  data: Record<string, unknown>,
  path: string,
  value: unknown,
): Record<string, unknown> {
  const [head, ...rest] = path.split('.');
  if (head === undefined) return data;
  if (rest.length === 0) return { ...data, [head]: value };
  const child = data[head];
  if (typeof child !== 'object' || child === null) return data;
  return { ...data, [head]: setPath(child as Record<string, unknown>, rest.join('.'), value) };
}

/**
 * Crypto-shredding: personal fields are sealed with AES-256-GCM under a key per data
 * subject before they are appended, and opened on read. Erasing a subject destroys its key;
 * its fields then read as "[erased]" while the events still load and every saga replays.
 */
export class CryptoShredder {
  constructor(
    private readonly db: SqlExecutor,
    private readonly policy: PersonalDataPolicy,
  ) {}

  /** Seals the personal fields of the events the policy names. */
  async protect(events: readonly NewEvent[]): Promise<NewEvent[]> {
    if (!events.some((event) => this.policy[event.type])) return [...events];
    return Promise.all(
      events.map(async (event) => {
        const rule = this.policy[event.type];
        const data = event.data as Record<string, unknown>;
        const subject = rule?.subject(data);
        if (!rule || !subject) return event;
        const key = await this.keyFor(subject);
        let sealed = data;
        for (const path of rule.fields) {
          const value = getPath(data, path);
          if (value === undefined || isSealed(value)) continue;
          sealed = setPath(sealed, path, key ? seal(key, subject, value) : ERASED);
        }
        return { ...event, data: sealed };
      }),
    );
  }

  /** Opens sealed fields; fields of erased subjects read as "[erased]". */
  async reveal(events: RecordedEvent[]): Promise<RecordedEvent[]> {
    const subjects = new Set<string>();
    for (const event of events) {
      const rule = this.policy[event.type];
      if (!rule) continue;
      for (const path of rule.fields) {
        const value = getPath(event.data as Record<string, unknown>, path);
        if (isSealed(value)) subjects.add(value.subject);
      }
    }
    if (subjects.size === 0) return events;
    const keys = await this.keys([...subjects]);
    return events.map((event) => {
      const rule = this.policy[event.type];
      if (!rule) return event;
      let data = event.data as Record<string, unknown>;
      let erased = false;
      for (const path of rule.fields) {
        const value = getPath(data, path);
        if (!isSealed(value)) continue;
        const key = keys.get(value.subject);
        erased ||= !key;
        data = setPath(data, path, key ? open(key, value) : ERASED);
      }
      return erased
        ? { ...event, data, metadata: { ...event.metadata, personal_data: 'erased' } }
        : { ...event, data };
    });
  }

  /** Destroys a subject's key. Idempotent; returns whether there was a key to destroy. */
  async erase(subject: string): Promise<boolean> {
    const result = await this.db.query<{ had_key: boolean }>(
      `WITH previous AS (SELECT key IS NOT NULL AS had_key FROM data_subject_keys WHERE subject_id = $1),
            erased AS (
              INSERT INTO data_subject_keys (subject_id, key, erased_at) VALUES ($1, NULL, now())
              ON CONFLICT (subject_id) DO UPDATE
                 SET key = NULL, erased_at = coalesce(data_subject_keys.erased_at, now())
            )
       SELECT coalesce((SELECT had_key FROM previous), false) AS had_key`,
      [subject],
    );
    return result.rows[0]?.had_key ?? false;
  }

  /** The subject's key, created on first use; undefined once the subject was erased. */
  private async keyFor(subject: string): Promise<Buffer | undefined> {
    const result = await this.db.query<{ key: Buffer | null }>(
      `WITH created AS (
         INSERT INTO data_subject_keys (subject_id, key) VALUES ($1, $2)
         ON CONFLICT (subject_id) DO NOTHING RETURNING key
       )
       SELECT key FROM created UNION ALL SELECT key FROM data_subject_keys WHERE subject_id = $1
       LIMIT 1`,
      [subject, randomBytes(32)],
    );
    return result.rows[0]?.key ?? undefined;
  }

  private async keys(subjects: string[]): Promise<Map<string, Buffer>> {
    const result = await this.db.query<{ subject_id: string; key: Buffer | null }>(
      'SELECT subject_id, key FROM data_subject_keys WHERE subject_id = ANY($1)',
      [subjects],
    );
    const keys = new Map<string, Buffer>();
    for (const row of result.rows) if (row.key) keys.set(row.subject_id, row.key);
    return keys;
  }
}

function seal(key: Buffer, subject: string, value: unknown): SealedField {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  // The subject is bound as additional data: a sealed field cannot be moved to another subject.
  cipher.setAAD(Buffer.from(subject));
  const data = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return {
    $pii: 1,
    subject,
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    data: data.toString('base64'),
  };
}

function open(key: Buffer, sealed: SealedField): unknown {
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64'));
  decipher.setAAD(Buffer.from(sealed.subject));
  decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
  const text = Buffer.concat([
    decipher.update(Buffer.from(sealed.data, 'base64')),
    decipher.final(),
  ]).toString('utf8');
  return JSON.parse(text) as unknown;
}
