-- Up Migration

-- The loyalty service's own tables, in its own schema: it never reads Sagaflow's.

-- One row per integration message applied (its CloudEvents id), written in the same
-- transaction as the effect; the message is acked after the commit.
CREATE TABLE loyalty.inbox (
  message_id  text        PRIMARY KEY,
  type        text        NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);

-- What each order earned, and whether its payment was refunded (which takes it back).
CREATE TABLE loyalty.order_points (
  order_id     text        PRIMARY KEY,
  customer_id  text,
  points       integer     NOT NULL DEFAULT 0 CHECK (points >= 0),
  completed_at timestamptz,
  refunded_at  timestamptz
);
CREATE INDEX order_points_customer_idx ON loyalty.order_points (customer_id);

-- The read model the HTTP API serves.
CREATE TABLE loyalty.customer_points (
  customer_id text        PRIMARY KEY,
  points      integer     NOT NULL CHECK (points >= 0),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE loyalty.customer_points;
DROP TABLE loyalty.order_points;
DROP TABLE loyalty.inbox;
