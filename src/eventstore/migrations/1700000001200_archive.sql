-- Up Migration

-- Archiving: the events of finished streams (see src/archiving/) leave the hot table for a
-- cold one with the same columns, moved byte for byte in one transaction.
--
-- A cold table, not partitions of `events`: a partitioned table's primary key and unique
-- constraints must include the partition key, so (stream_id, version) and (stream_id,
-- event_id) would only be unique per partition, and moving a row between partitions is an
-- UPDATE of its partition key (a changed byte, and a new column every event would carry).
-- With a cold table both tables keep their constraints as they are, the move is
-- INSERT ... SELECT + DELETE, and `all_events` (UNION ALL) is the whole log for readers:
-- a move changes which table holds a row, never the set of (transaction_id,
-- global_position) pairs the union shows, so catch-up order is the same before and after.
CREATE TABLE events_archive (
  global_position bigint      PRIMARY KEY,
  stream_id       text        NOT NULL,
  stream_type     text        NOT NULL,
  version         integer     NOT NULL CHECK (version >= 1),
  event_id        uuid        NOT NULL,
  event_type      text        NOT NULL,
  schema_version  integer     NOT NULL CHECK (schema_version >= 1),
  data            jsonb       NOT NULL,
  metadata        jsonb       NOT NULL,
  transaction_id  xid8        NOT NULL,
  created_at      timestamptz NOT NULL,
  CONSTRAINT events_archive_stream_version_unique UNIQUE (stream_id, version),
  CONSTRAINT events_archive_stream_event_id_unique UNIQUE (stream_id, event_id)
);
CREATE INDEX events_archive_transaction_order_idx ON events_archive (transaction_id, global_position);

-- Which streams were archived: appends to them are refused (STREAM_ARCHIVED).
CREATE TABLE archived_streams (
  stream_id     text        PRIMARY KEY,
  stream_type   text        NOT NULL,
  last_version  integer     NOT NULL,
  last_position bigint      NOT NULL,
  archived_at   timestamptz NOT NULL DEFAULT now()
);

-- The whole log, hot and archived: what stream reads and catch-up readers query.
CREATE VIEW all_events AS
  SELECT global_position, stream_id, stream_type, version, event_id, event_type, schema_version,
         data, metadata, transaction_id, created_at FROM events
  UNION ALL
  SELECT global_position, stream_id, stream_type, version, event_id, event_type, schema_version,
         data, metadata, transaction_id, created_at FROM events_archive;

-- Archived events are as immutable as hot ones.
CREATE TRIGGER events_archive_no_update_or_delete
  BEFORE UPDATE OR DELETE ON events_archive
  FOR EACH ROW EXECUTE FUNCTION events_are_immutable();
CREATE TRIGGER events_archive_no_truncate
  BEFORE TRUNCATE ON events_archive
  FOR EACH STATEMENT EXECUTE FUNCTION events_are_immutable();

-- A hot event may only be deleted once an identical copy (every column, compared as text)
-- is in the archive: the archival move is the one way out of `events`, and it cannot change
-- a byte. UPDATE stays refused outright.
CREATE FUNCTION events_leave_only_for_the_archive() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM events_archive a
              WHERE a.global_position = OLD.global_position
                AND (a.global_position, a.stream_id, a.stream_type, a.version, a.event_id, a.event_type,
                     a.schema_version, a.data, a.metadata, a.transaction_id, a.created_at)::text
                  = (OLD.global_position, OLD.stream_id, OLD.stream_type, OLD.version, OLD.event_id,
                     OLD.event_type, OLD.schema_version, OLD.data, OLD.metadata, OLD.transaction_id,
                     OLD.created_at)::text) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'events are immutable: DELETE is only allowed for an event already copied to events_archive'
    USING ERRCODE = 'SF403';
END;
$$;
DROP TRIGGER events_no_update_or_delete ON events;
CREATE TRIGGER events_no_update
  BEFORE UPDATE ON events
  FOR EACH ROW EXECUTE FUNCTION events_are_immutable();
CREATE TRIGGER events_delete_only_into_archive
  BEFORE DELETE ON events
  FOR EACH ROW EXECUTE FUNCTION events_leave_only_for_the_archive();

-- Moves finished streams to the archive, each under its append lock (so no append can
-- interleave) and only if its last version is still the one the caller judged finished.
-- Locks are taken in stream id order; an append holds one stream lock at a time, so this
-- cannot deadlock with appends. Snapshots of archived streams are dropped (a cache: loads
-- replay from the archive). Returns the streams it moved.
CREATE FUNCTION archive_streams(p_stream_ids text[], p_last_versions integer[])
RETURNS TABLE (stream_id text, events integer)
LANGUAGE plpgsql AS $$
DECLARE
  s         record;
  v_current integer;
  v_moved   integer;
BEGIN
  FOR s IN SELECT u.id, u.v FROM unnest(p_stream_ids, p_last_versions) AS u(id, v) ORDER BY u.id LOOP
    PERFORM pg_advisory_xact_lock(hashtextextended(s.id, 0));
    SELECT max(e.version) INTO v_current FROM events e WHERE e.stream_id = s.id;
    CONTINUE WHEN v_current IS DISTINCT FROM s.v;
    INSERT INTO events_archive (global_position, stream_id, stream_type, version, event_id, event_type,
                                schema_version, data, metadata, transaction_id, created_at)
    SELECT e.global_position, e.stream_id, e.stream_type, e.version, e.event_id, e.event_type,
           e.schema_version, e.data, e.metadata, e.transaction_id, e.created_at
      FROM events e WHERE e.stream_id = s.id;
    INSERT INTO archived_streams (stream_id, stream_type, last_version, last_position)
    SELECT e.stream_id, e.stream_type, e.version, e.global_position
      FROM events e WHERE e.stream_id = s.id AND e.version = s.v;
    DELETE FROM events e WHERE e.stream_id = s.id;
    GET DIAGNOSTICS v_moved = ROW_COUNT;
    DELETE FROM snapshots sn WHERE sn.stream_id = s.id;
    stream_id := s.id;
    events := v_moved;
    RETURN NEXT;
  END LOOP;
END;
$$;

-- append_to_stream as in 1700000000500, plus: a stream with no hot events may be an
-- archived one. Then a retry of events it already holds is still answered as a duplicate
-- (from the archive), and anything new is refused (SF004, StreamArchivedError). Appends to
-- live streams (version > 0) pay nothing for this.
CREATE OR REPLACE FUNCTION append_to_stream(
  p_stream_id       text,
  p_stream_type     text,
  p_expected        text,      -- 'any' | 'no_stream' | 'stream_exists' | a version number
  p_event_ids       uuid[],
  p_event_types     text[],
  p_schema_versions integer[],
  p_data            jsonb[],
  p_metadata        jsonb[]
) RETURNS TABLE (outcome text, stream_version integer, first_position bigint, last_position bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_count   integer := coalesce(cardinality(p_event_ids), 0);
  v_current integer;
  v_found   integer;
BEGIN
  IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
    RAISE EXCEPTION 'append_to_stream must be the first write of its transaction (stream %)', p_stream_id
      USING ERRCODE = 'SF001';
  END IF;
  IF v_count = 0 THEN
    RAISE EXCEPTION 'append_to_stream needs at least one event' USING ERRCODE = 'SF002';
  END IF;

  PERFORM pg_advisory_xact_lock(hashtextextended(p_stream_id, 0));

  -- Is this an idempotent retry (the same event ids are already there)? The
  -- (stream_id, event_id) index answers for just these ids, however long the stream.
  SELECT count(*)::integer, max(e.version), min(e.global_position), max(e.global_position)
    INTO v_found, stream_version, first_position, last_position
    FROM events e
   WHERE e.stream_id = p_stream_id AND e.event_id = ANY (p_event_ids);
  IF v_found = v_count THEN
    outcome := 'duplicate';
    RETURN NEXT;
    RETURN;
  ELSIF v_found > 0 THEN
    RAISE EXCEPTION 'append to % repeats % of % event ids: a retry must resend the same batch',
      p_stream_id, v_found, v_count USING ERRCODE = 'SF003';
  END IF;

  -- The current version: one step down the (stream_id, version) index.
  SELECT coalesce(max(e.version), 0) INTO v_current FROM events e WHERE e.stream_id = p_stream_id;

  IF v_current = 0 AND EXISTS (SELECT 1 FROM archived_streams a WHERE a.stream_id = p_stream_id) THEN
    SELECT count(*)::integer, max(e.version), min(e.global_position), max(e.global_position)
      INTO v_found, stream_version, first_position, last_position
      FROM events_archive e
     WHERE e.stream_id = p_stream_id AND e.event_id = ANY (p_event_ids);
    IF v_found = v_count THEN
      outcome := 'duplicate';
      RETURN NEXT;
      RETURN;
    END IF;
    RAISE EXCEPTION 'stream % is archived: it takes no more events', p_stream_id
      USING ERRCODE = 'SF004';
  END IF;

  IF (p_expected = 'no_stream' AND v_current <> 0)
     OR (p_expected = 'stream_exists' AND v_current = 0)
     OR (p_expected NOT IN ('any', 'no_stream', 'stream_exists') AND p_expected::integer <> v_current) THEN
    outcome := 'wrong_version';
    stream_version := v_current;
    first_position := NULL;
    last_position := NULL;
    RETURN NEXT;
    RETURN;
  END IF;

  WITH inserted AS (
    INSERT INTO events (stream_id, stream_type, version, event_id, event_type, schema_version, data, metadata)
    SELECT p_stream_id, p_stream_type, v_current + u.ord::integer, u.id, u.typ, u.sv, u.d, coalesce(u.m, '{}'::jsonb)
      FROM unnest(p_event_ids, p_event_types, p_schema_versions, p_data, p_metadata)
           WITH ORDINALITY AS u(id, typ, sv, d, m, ord)
     ORDER BY u.ord
    RETURNING global_position
  )
  SELECT min(global_position), max(global_position) INTO first_position, last_position FROM inserted;

  -- Wake catch-up readers (see 1700000000500): only one in-flight append notifies.
  IF pg_try_advisory_xact_lock(7261746) THEN
    PERFORM pg_notify('sagaflow_events', '');
  END IF;

  outcome := 'appended';
  stream_version := v_current + v_count;
  RETURN NEXT;
END;
$$;

-- Down Migration
-- Not reversible while the archive holds events: they would have nowhere to go.
DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM events_archive) THEN
    RAISE EXCEPTION 'events_archive holds events: move them back before migrating down';
  END IF;
END $$;
DROP FUNCTION archive_streams(text[], integer[]);
DROP TRIGGER events_delete_only_into_archive ON events;
DROP TRIGGER events_no_update ON events;
CREATE TRIGGER events_no_update_or_delete
  BEFORE UPDATE OR DELETE ON events
  FOR EACH ROW EXECUTE FUNCTION events_are_immutable();
DROP FUNCTION events_leave_only_for_the_archive();
DROP VIEW all_events;
DROP TABLE archived_streams;
DROP TABLE events_archive;
-- append_to_stream as 1700000000500 left it.

CREATE OR REPLACE FUNCTION append_to_stream(
  p_stream_id       text,
  p_stream_type     text,
  p_expected        text,      -- 'any' | 'no_stream' | 'stream_exists' | a version number
  p_event_ids       uuid[],
  p_event_types     text[],
  p_schema_versions integer[],
  p_data            jsonb[],
  p_metadata        jsonb[]
) RETURNS TABLE (outcome text, stream_version integer, first_position bigint, last_position bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_count   integer := coalesce(cardinality(p_event_ids), 0);
  v_current integer;
  v_found   integer;
BEGIN
  IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
    RAISE EXCEPTION 'append_to_stream must be the first write of its transaction (stream %)', p_stream_id
      USING ERRCODE = 'SF001';
  END IF;
  IF v_count = 0 THEN
    RAISE EXCEPTION 'append_to_stream needs at least one event' USING ERRCODE = 'SF002';
  END IF;

  PERFORM pg_advisory_xact_lock(hashtextextended(p_stream_id, 0));

  -- Is this an idempotent retry (the same event ids are already there)? The
  -- (stream_id, event_id) index answers for just these ids, however long the stream.
  SELECT count(*)::integer, max(e.version), min(e.global_position), max(e.global_position)
    INTO v_found, stream_version, first_position, last_position
    FROM events e
   WHERE e.stream_id = p_stream_id AND e.event_id = ANY (p_event_ids);
  IF v_found = v_count THEN
    outcome := 'duplicate';
    RETURN NEXT;
    RETURN;
  ELSIF v_found > 0 THEN
    RAISE EXCEPTION 'append to % repeats % of % event ids: a retry must resend the same batch',
      p_stream_id, v_found, v_count USING ERRCODE = 'SF003';
  END IF;

  -- The current version: one step down the (stream_id, version) index.
  SELECT coalesce(max(e.version), 0) INTO v_current FROM events e WHERE e.stream_id = p_stream_id;

  IF (p_expected = 'no_stream' AND v_current <> 0)
     OR (p_expected = 'stream_exists' AND v_current = 0)
     OR (p_expected NOT IN ('any', 'no_stream', 'stream_exists') AND p_expected::integer <> v_current) THEN
    outcome := 'wrong_version';
    stream_version := v_current;
    first_position := NULL;
    last_position := NULL;
    RETURN NEXT;
    RETURN;
  END IF;

  WITH inserted AS (
    INSERT INTO events (stream_id, stream_type, version, event_id, event_type, schema_version, data, metadata)
    SELECT p_stream_id, p_stream_type, v_current + u.ord::integer, u.id, u.typ, u.sv, u.d, coalesce(u.m, '{}'::jsonb)
      FROM unnest(p_event_ids, p_event_types, p_schema_versions, p_data, p_metadata)
           WITH ORDINALITY AS u(id, typ, sv, d, m, ord)
     ORDER BY u.ord
    RETURNING global_position
  )
  SELECT min(global_position), max(global_position) INTO first_position, last_position FROM inserted;

  -- Wake catch-up readers. A transaction that notified takes a database-wide lock at commit
  -- and holds it through its WAL flush, which would make every append commit one after
  -- another. So only one in-flight append notifies at a time; the others skip. Readers
  -- re-read after each wake-up and poll as a fallback, so a skipped notify delays them a
  -- little, never loses an event.
  IF pg_try_advisory_xact_lock(7261746) THEN
    PERFORM pg_notify('sagaflow_events', '');
  END IF;

  outcome := 'appended';
  stream_version := v_current + v_count;
  RETURN NEXT;
END;
$$;

