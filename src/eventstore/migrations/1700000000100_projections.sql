-- Up Migration

-- One row per projection: which generation of its tables readers see (through a view named
-- after the projection), the global position it has applied up to, and a rebuild in progress.
-- The catch-up runner updates `position` in the same transaction as the read-model rows.
CREATE TABLE projection_checkpoints (
  name               text        PRIMARY KEY,
  version            integer     NOT NULL,
  generation         integer     NOT NULL,
  position           bigint      NOT NULL DEFAULT 0,
  -- A rebuild builds generation `rebuild_generation` (for `rebuild_version`) up to
  -- `rebuild_position` while `generation` keeps serving; NULL when none runs.
  rebuild_generation integer,
  rebuild_version    integer,
  rebuild_position   bigint,
  error_position     bigint,
  error_message      text,
  events_per_second  double precision NOT NULL DEFAULT 0,
  updated_at         timestamptz NOT NULL DEFAULT now()
);

-- Generation 1 of the built-in read models, so queries work before a projector first runs.
-- A record of the DDL as it was: the projections' createTables (src/projections/readModels)
-- is the source of truth, and test/projections/readModelDdl checks this copy against it.
CREATE TABLE order_summary_g1 (
  order_id           text        PRIMARY KEY,
  customer_id        text        NOT NULL,
  payment_account_id text        NOT NULL,
  status             text        NOT NULL,
  lines              jsonb       NOT NULL,
  total              bigint      NOT NULL,
  failure_reason     text,
  timeline           jsonb       NOT NULL,
  placed_at          timestamptz NOT NULL,
  updated_at         timestamptz NOT NULL,
  version            integer     NOT NULL,
  last_position      bigint      NOT NULL
);
CREATE INDEX order_summary_g1_customer_idx ON order_summary_g1 (customer_id, placed_at DESC, order_id DESC);
CREATE INDEX order_summary_g1_status_idx ON order_summary_g1 (status, placed_at DESC, order_id DESC);
CREATE INDEX order_summary_g1_placed_idx ON order_summary_g1 (placed_at DESC, order_id DESC);
CREATE VIEW order_summary AS SELECT * FROM order_summary_g1;

CREATE TABLE account_balance_g1 (
  account_id      text        PRIMARY KEY,
  owner_id        text        NOT NULL,
  balance         bigint      NOT NULL,
  status          text        NOT NULL,
  version         integer     NOT NULL,
  last_changed_at timestamptz NOT NULL,
  last_position   bigint      NOT NULL
);
CREATE VIEW account_balance AS SELECT * FROM account_balance_g1;

CREATE TABLE inventory_level_g1 (
  sku           text    PRIMARY KEY,
  available     bigint  NOT NULL,
  reserved      bigint  NOT NULL,
  committed     bigint  NOT NULL,
  received      bigint  NOT NULL,
  version       integer NOT NULL,
  last_position bigint  NOT NULL
);
CREATE VIEW inventory_level AS SELECT * FROM inventory_level_g1;

CREATE TABLE transfer_summary_g1 (
  transfer_id     text        PRIMARY KEY,
  from_account_id text        NOT NULL,
  to_account_id   text        NOT NULL,
  amount          bigint      NOT NULL,
  status          text        NOT NULL,
  reason          text,
  updated_at      timestamptz NOT NULL,
  version         integer     NOT NULL,
  last_position   bigint      NOT NULL
);
CREATE VIEW transfer_summary AS SELECT * FROM transfer_summary_g1;

INSERT INTO projection_checkpoints (name, version, generation) VALUES
  ('order_summary', 1, 1),
  ('account_balance', 1, 1),
  ('inventory_level', 1, 1),
  ('transfer_summary', 1, 1);

-- Down Migration
DROP VIEW IF EXISTS order_summary, account_balance, inventory_level, transfer_summary;
DROP TABLE IF EXISTS order_summary_g1, account_balance_g1, inventory_level_g1, transfer_summary_g1;
DROP TABLE projection_checkpoints;
