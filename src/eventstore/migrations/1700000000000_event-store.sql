-- Up Migration

-- The append-only log. Rows are never updated or deleted (see the trigger below);
-- personal data is erased by destroying its key (crypto-shredding), not by editing events.
CREATE TABLE events (
  global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  stream_id       text        NOT NULL,
  stream_type     text        NOT NULL,
  version         integer     NOT NULL CHECK (version >= 1),
  event_id        uuid        NOT NULL,
  event_type      text        NOT NULL,
  schema_version  integer     NOT NULL DEFAULT 1 CHECK (schema_version >= 1),
  data            jsonb       NOT NULL,
  metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
  transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
  created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT events_stream_version_unique UNIQUE (stream_id, version),
  CONSTRAINT events_stream_event_id_unique UNIQUE (stream_id, event_id)
);

-- Catch-up readers walk the log in (transaction_id, global_position) order.
CREATE INDEX events_transaction_order_idx ON events (transaction_id, global_position);
CREATE INDEX events_stream_created_at_idx ON events (stream_id, created_at);

CREATE FUNCTION events_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'events are immutable: % is not allowed on table events', TG_OP
    USING ERRCODE = 'SF403';
END;
$$;

CREATE TRIGGER events_no_update_or_delete
  BEFORE UPDATE OR DELETE ON events
  FOR EACH ROW EXECUTE FUNCTION events_are_immutable();

CREATE TRIGGER events_no_truncate
  BEFORE TRUNCATE ON events
  FOR EACH STATEMENT EXECUTE FUNCTION events_are_immutable();

-- Appends a batch of events to one stream in one round trip.
--
-- Ordering guarantee for catch-up readers: readers only hand out rows whose transaction
-- has finished (transaction_id below the oldest in-flight xid) in (transaction_id,
-- global_position) order. Transaction ids follow *assignment* order, so for a stream's
-- versions to appear in order, every writer of a stream must get its xid after it holds
-- the stream's lock. We guarantee that by (1) refusing to run when the transaction already
-- has an xid (the append must be its first write) and (2) taking the per-stream advisory
-- lock before the first write. An advisory lock assigns no xid, so the writer that waits
-- gets its xid only after the previous writer committed.
--
-- Returns one row: outcome is 'appended', 'duplicate' (every event id is already in the
-- stream: an idempotent retry, answered with the original positions) or 'wrong_version'.
CREATE FUNCTION append_to_stream(
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

  -- One index scan answers both questions: is this an idempotent retry (the same event
  -- ids are already there), and what is the stream's current version.
  SELECT count(*) FILTER (WHERE e.event_id = ANY (p_event_ids))::integer,
         max(e.version) FILTER (WHERE e.event_id = ANY (p_event_ids)),
         min(e.global_position) FILTER (WHERE e.event_id = ANY (p_event_ids)),
         max(e.global_position) FILTER (WHERE e.event_id = ANY (p_event_ids)),
         coalesce(max(e.version), 0)
    INTO v_found, stream_version, first_position, last_position, v_current
    FROM events e
   WHERE e.stream_id = p_stream_id;
  IF v_found = v_count THEN
    outcome := 'duplicate';
    RETURN NEXT;
    RETURN;
  ELSIF v_found > 0 THEN
    RAISE EXCEPTION 'append to % repeats % of % event ids: a retry must resend the same batch',
      p_stream_id, v_found, v_count USING ERRCODE = 'SF003';
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

-- Snapshots are a cache: the latest state of a stream at some version. They can be
-- dropped at any time; aggregates then replay from the first event.
CREATE TABLE snapshots (
  stream_id            text        PRIMARY KEY,
  stream_type          text        NOT NULL,
  version              integer     NOT NULL,
  state_schema_version integer     NOT NULL,
  state                jsonb       NOT NULL,
  created_at           timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE snapshots;
DROP FUNCTION append_to_stream(text, text, text, uuid[], text[], integer[], jsonb[], jsonb[]);
DROP TABLE events;
DROP FUNCTION events_are_immutable();
