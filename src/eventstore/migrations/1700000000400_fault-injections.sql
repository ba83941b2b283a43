-- Up Migration

-- Faults armed by tests, the chaos harness and demos; read by workers only when started
-- with FAULT_INJECTION=enabled. Deleting a row "fixes the cause".
CREATE TABLE fault_injections (
  id            serial      PRIMARY KEY,
  activity      text        NOT NULL,
  mode          text        NOT NULL CHECK (mode IN ('fail', 'fail_after_effect', 'delay_before_effect', 'delay_after_effect')),
  -- Only workflows whose id contains this text (NULL: every workflow).
  workflow_match text,
  -- Fires this many more times (NULL: until the row is deleted).
  remaining     integer     CHECK (remaining IS NULL OR remaining >= 0),
  delay_ms      integer     NOT NULL DEFAULT 0,
  fired         integer     NOT NULL DEFAULT 0,
  created_at    timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE fault_injections;
