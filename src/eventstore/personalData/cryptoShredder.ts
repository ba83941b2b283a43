import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { SqlExecutor } from '../schema/executor';
import type { NewEvent, RecordedEvent } from '../types';
import { ERASED, type PersonalDataPolicy, type PersonalDataRule } from './policy';

/** How an encrypted field is stored inside an event's JSON data. */
interface SealedField {
  $pii: 1;
  subject: string;
  /** The subject's key generation; absent on fields sealed before generations (then 1). */
  gen?: number;
  iv: string;
  tag: string;
  data: string;
}

/** One of a subject's keys: erasure destroys them all, later data gets the next generation. */
interface SubjectKey {
  generation: number;
  key: Buffer;
}

/** A field's key generation: fields without a valid `gen` predate generations, so 1. */
function generationOf(sealed: SealedField): number {
  const { gen } = sealed;
  return typeof gen === 'number' && Number.isSafeInteger(gen) && gen >= 1 ? gen : 1;
}
const keyId = (subject: string, generation: number) => `${generation}:${subject}`;

/** Attempts to find or create a subject's current key while others create it concurrently. */
const KEY_CREATION_ATTEMPTS = 5;

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
 * subject before they are appended, and opened on read. Erasing a subject destroys its keys;
 * its fields then read as "[erased]" while the events still load and every saga replays.
 *
 * Erasure covers the personal data held at the time. A returning customer's later data is
 * sealed under a new key generation, readable until the next erasure; the fields sealed
 * before name their own (destroyed) generation, so the new key never opens them.
 */
export class CryptoShredder {
  constructor(
    private readonly db: SqlExecutor,
    private readonly policy: PersonalDataPolicy,
  ) {}

  /** The rule for an event type (own entries only: a type named `toString` has none). */
  private ruleFor(type: string): PersonalDataRule | undefined {
    return Object.hasOwn(this.policy, type) ? this.policy[type] : undefined;
  }

  /** Whether any of these events has personal fields to seal (no I/O). */
  holdsPersonalData(events: readonly { type: string }[]): boolean {
    return events.some((event) => this.ruleFor(event.type) !== undefined);
  }

  /** Seals the personal fields of the events the policy names. */
  async protect<E extends Pick<NewEvent, 'type' | 'data'>>(events: readonly E[]): Promise<E[]> {
    if (!this.holdsPersonalData(events)) return [...events];
    return Promise.all(
      events.map(async (event) => {
        const rule = this.ruleFor(event.type);
        const data = event.data as Record<string, unknown>;
        const subject = rule?.subject(data);
        if (!rule || !subject) return event;
        // Already sealed (by a command handler that remembers what it appends): no key lookup.
        const plain = rule.fields.filter((path) => {
          const value = getPath(data, path);
          return value !== undefined && !isSealed(value);
        });
        if (plain.length === 0) return event;
        const key = await this.currentKey(subject);
        let sealed = data;
        for (const path of plain)
          sealed = setPath(sealed, path, seal(key, subject, getPath(data, path)));
        return { ...event, data: sealed };
      }),
    );
  }

  /** Opens sealed fields; fields of erased subjects read as "[erased]". */
  async reveal(events: RecordedEvent[]): Promise<RecordedEvent[]> {
    const wanted = new Map<string, { subject: string; generation: number }>();
    let storedErased = false;
    for (const event of events) {
      const rule = this.ruleFor(event.type);
      if (!rule) continue;
      for (const path of rule.fields) {
        const value = getPath(event.data as Record<string, unknown>, path);
        storedErased ||= value === ERASED;
        if (!isSealed(value)) continue;
        const generation = generationOf(value);
        wanted.set(keyId(value.subject, generation), { subject: value.subject, generation });
      }
    }
    if (wanted.size === 0 && !storedErased) return events;
    const keys =
      wanted.size > 0 ? await this.keys([...wanted.values()]) : new Map<string, Buffer>();
    return events.map((event) => {
      const rule = this.ruleFor(event.type);
      if (!rule) return event;
      let data = event.data as Record<string, unknown>;
      let erased = false;
      for (const path of rule.fields) {
        const value = getPath(data, path);
        // Stored as "[erased]" in clear: what orders placed after an erasure got before key
        // generations existed. Their address is gone, and readers are told so.
        erased ||= value === ERASED;
        if (!isSealed(value)) continue;
        const key = keys.get(keyId(value.subject, generationOf(value)));
        erased ||= !key;
        data = setPath(data, path, key ? open(key, value) : ERASED);
      }
      return erased
        ? { ...event, data, metadata: { ...event.metadata, personal_data: 'erased' } }
        : { ...event, data };
    });
  }

  /**
   * Destroys every key of a subject. Idempotent; returns whether there was a key to destroy.
   * A subject never seen gets an erased first generation, so the request is on record.
   */
  async erase(subject: string): Promise<boolean> {
    // First the marker: its ON CONFLICT waits for a first key being created right now, so
    // the UPDATE below (a later statement, hence a later snapshot) sees and destroys it.
    await this.db.query(
      `INSERT INTO data_subject_keys (subject_id, generation, key, erased_at)
       VALUES ($1, 1, NULL, now())
       ON CONFLICT (subject_id, generation) DO NOTHING`,
      [subject],
    );
    const destroyed = await this.db.query(
      `UPDATE data_subject_keys SET key = NULL, erased_at = now()
        WHERE subject_id = $1 AND key IS NOT NULL`,
      [subject],
    );
    return (destroyed.rowCount ?? 0) > 0;
  }

  /**
   * The subject's live key: its newest generation, or a new generation when the subject has
   * none yet or was erased. Concurrent creators of the same generation agree on one key.
   */
  private async currentKey(subject: string): Promise<SubjectKey> {
    for (let attempt = 0; attempt < KEY_CREATION_ATTEMPTS; attempt++) {
      const result = await this.db.query<{ generation: number; key: Buffer }>(
        `WITH newest AS (
           SELECT generation, key FROM data_subject_keys
            WHERE subject_id = $1 ORDER BY generation DESC LIMIT 1
         ), created AS (
           INSERT INTO data_subject_keys (subject_id, generation, key)
           SELECT $1, coalesce((SELECT generation FROM newest), 0) + 1, $2
            WHERE NOT EXISTS (SELECT 1 FROM newest WHERE key IS NOT NULL)
           ON CONFLICT (subject_id, generation) DO NOTHING
           RETURNING generation, key
         )
         SELECT generation, key FROM newest WHERE key IS NOT NULL
         UNION ALL SELECT generation, key FROM created`,
        [subject, randomBytes(32)],
      );
      const row = result.rows[0];
      // No row: another writer created this generation first; the next statement sees it.
      if (row) return { generation: row.generation, key: row.key };
    }
    throw new Error(`no key for data subject ${subject} after ${KEY_CREATION_ATTEMPTS} attempts`);
  }

  /** The live keys among these (subject, generation) pairs, by keyId. */
  private async keys(
    wanted: ReadonlyArray<{ subject: string; generation: number }>,
  ): Promise<Map<string, Buffer>> {
    const result = await this.db.query<{ subject_id: string; generation: number; key: Buffer }>(
      `SELECT k.subject_id, k.generation, k.key
         FROM data_subject_keys k
         JOIN unnest($1::text[], $2::int[]) AS w(subject_id, generation)
           USING (subject_id, generation)
        WHERE k.key IS NOT NULL`,
      [wanted.map((w) => w.subject), wanted.map((w) => w.generation)],
    );
    const keys = new Map<string, Buffer>();
    for (const row of result.rows) keys.set(keyId(row.subject_id, row.generation), row.key);
    return keys;
  }
}

/**
 * Additional authenticated data: a sealed field cannot be moved to another subject or
 * generation. Generation 1 binds the subject alone, as fields sealed before generations do.
 */
const associatedData = (subject: string, generation: number): Buffer =>
  Buffer.from(generation === 1 ? subject : `${subject}#${generation}`);

function seal({ key, generation }: SubjectKey, subject: string, value: unknown): SealedField {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(associatedData(subject, generation));
  const data = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return {
    $pii: 1,
    subject,
    gen: generation,
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    data: data.toString('base64'),
  };
}

function open(key: Buffer, sealed: SealedField): unknown {
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64'));
  decipher.setAAD(associatedData(sealed.subject, generationOf(sealed)));
  decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
  const text = Buffer.concat([
    decipher.update(Buffer.from(sealed.data, 'base64')),
    decipher.final(),
  ]).toString('utf8');
  return JSON.parse(text) as unknown;
}

/**
 * The shredder an event store seals with, when it has one (PostgresEventStore exposes it as
 * `personalData`): whoever remembers appended events seals them the same way first.
 */
export function shredderOf(store: object): CryptoShredder | undefined {
  const candidate = (store as { personalData?: unknown }).personalData;
  return candidate instanceof CryptoShredder ? candidate : undefined;
}
