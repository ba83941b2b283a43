-- Up Migration

-- A failing projection keeps retrying on a slow backoff; these say what it is stuck on
-- (the event's id and type next to error_position), since when, how often it failed in a
-- row, and in total (errors_total never goes back: it feeds a Prometheus counter).
ALTER TABLE projection_checkpoints
  ADD COLUMN error_event_id    uuid,
  ADD COLUMN error_event_type  text,
  ADD COLUMN error_attempts    integer     NOT NULL DEFAULT 0,
  ADD COLUMN error_since       timestamptz,
  ADD COLUMN last_error_at     timestamptz,
  ADD COLUMN next_retry_at     timestamptz,
  ADD COLUMN errors_total      bigint      NOT NULL DEFAULT 0;

-- Events an operator skipped (npm run projections -- skip, POST /admin/projections/{name}/skip).
-- Written in the same transaction as the checkpoint advance past the event.
CREATE TABLE projection_dead_letters (
  id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  projection     text        NOT NULL,
  event_id       uuid        NOT NULL,
  event_position bigint      NOT NULL,
  event_type     text        NOT NULL,
  error          text        NOT NULL,
  reason         text        NOT NULL CHECK (length(reason) > 0),
  skipped_by     text        NOT NULL,
  skipped_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX projection_dead_letters_projection_idx
  ON projection_dead_letters (projection, event_position);

-- Down Migration
DROP TABLE projection_dead_letters;
ALTER TABLE projection_checkpoints
  DROP COLUMN error_event_id,
  DROP COLUMN error_event_type,
  DROP COLUMN error_attempts,
  DROP COLUMN error_since,
  DROP COLUMN last_error_at,
  DROP COLUMN next_retry_at,
  DROP COLUMN errors_total;
