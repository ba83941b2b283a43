-- Up Migration

-- A projection split into N segments (by a stable hash of the stream id) keeps one checkpoint
-- row per segment beside its own row: `name` is `<projection>#<segment>`, `projection` and
-- `segment`/`segments` say whose and which. The projection's own row (projection NULL) still
-- holds the version and generation readers and inline projection use.
ALTER TABLE projection_checkpoints
  ADD COLUMN projection text,
  ADD COLUMN segment    integer,
  ADD COLUMN segments   integer,
  ADD CONSTRAINT projection_checkpoints_segment_check CHECK (
    (projection IS NULL AND segment IS NULL AND segments IS NULL)
    OR (projection IS NOT NULL AND segments > 1 AND segment >= 0 AND segment < segments));
CREATE INDEX projection_checkpoints_projection_idx ON projection_checkpoints (projection)
  WHERE projection IS NOT NULL;

-- Live projector processes (runners) and their heartbeats: each runner owns at most
-- ceil(owner slots / live runners) projections or segments, so they spread over processes.
CREATE TABLE projection_runners (
  runner_id    text        PRIMARY KEY,
  host         text        NOT NULL,
  pid          integer     NOT NULL,
  started_at   timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  -- A runner that missed its heartbeats past this no longer counts as live.
  expires_at   timestamptz NOT NULL
);

-- Down Migration
DROP TABLE projection_runners;
DROP INDEX projection_checkpoints_projection_idx;
ALTER TABLE projection_checkpoints
  DROP CONSTRAINT projection_checkpoints_segment_check,
  DROP COLUMN segments,
  DROP COLUMN segment,
  DROP COLUMN projection;
