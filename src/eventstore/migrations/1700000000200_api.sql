-- Up Migration

-- Idempotency keys of the HTTP API: a retried request with the same key and the same
-- body gets the stored response; the same key with a different body is refused (409).
CREATE TABLE api_idempotency_keys (
  scope         text        NOT NULL,
  key           text        NOT NULL,
  request_hash  text        NOT NULL,
  status_code   integer,
  response      jsonb,
  created_at    timestamptz NOT NULL DEFAULT now(),
  completed_at  timestamptz,
  PRIMARY KEY (scope, key)
);

-- For expiring old keys (e.g. DELETE ... WHERE created_at < now() - interval '7 days').
CREATE INDEX api_idempotency_keys_created_at_idx ON api_idempotency_keys (created_at);

-- Down Migration

DROP TABLE api_idempotency_keys;
