-- Up Migration

-- The inbound delivery consumer (src/inbound/deliveryConsumer.ts): one inbox row per
-- shipment.delivered.v1 message id it applied, written in the same transaction as its effect
-- record (what it did with the confirmation), acked after the commit.
CREATE TABLE delivery_inbox (
  message_id  text        PRIMARY KEY,
  type        text        NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE delivery_confirmations (
  message_id   text        PRIMARY KEY REFERENCES delivery_inbox (message_id),
  order_id     text        NOT NULL,
  shipment_id  text        NOT NULL,
  delivered_at timestamptz NOT NULL,
  -- 'signalled': the order's saga got the shipmentDelivered signal;
  -- 'no running saga': there was none to tell (already finished, or never started).
  outcome      text        NOT NULL CHECK (outcome IN ('signalled', 'no running saga')),
  recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX delivery_confirmations_order_idx ON delivery_confirmations (order_id);

-- Down Migration
DROP TABLE delivery_confirmations;
DROP TABLE delivery_inbox;
