-- Up Migration

-- The integration-event relay's checkpoint: the events table itself is the outbox, and this
-- row says how far (a global position, read in catch-up order) its messages reached
-- JetStream. The counters never go back: they feed Prometheus counters.
CREATE TABLE integration_relay_checkpoints (
  name                    text             PRIMARY KEY,
  position                bigint           NOT NULL DEFAULT 0,
  published_total         bigint           NOT NULL DEFAULT 0,
  duplicates_total        bigint           NOT NULL DEFAULT 0,
  publish_failures_total  bigint           NOT NULL DEFAULT 0,
  last_error              text,
  last_error_at           timestamptz,
  last_published_at       timestamptz,
  messages_per_second     double precision NOT NULL DEFAULT 0,
  updated_at              timestamptz      NOT NULL DEFAULT now()
);
INSERT INTO integration_relay_checkpoints (name) VALUES ('nats');

-- Down Migration
DROP TABLE integration_relay_checkpoints;
