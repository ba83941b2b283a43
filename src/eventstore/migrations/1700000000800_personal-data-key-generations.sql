-- Up Migration

-- A data subject may have several keys over time: erasure destroys every key the subject
-- has, and personal data that arrives afterwards (a returning customer's new order) is
-- sealed under a new key of the next generation. Each sealed field names its generation,
-- so a field sealed before the erasure looks up its own (destroyed) key and stays erased:
-- the new key never opens old ciphertext. Existing rows are generation 1, which is what
-- fields sealed before generations existed (no `gen`) mean.
ALTER TABLE data_subject_keys
  ADD COLUMN generation integer NOT NULL DEFAULT 1 CHECK (generation >= 1);
ALTER TABLE data_subject_keys DROP CONSTRAINT data_subject_keys_pkey;
ALTER TABLE data_subject_keys ADD PRIMARY KEY (subject_id, generation);

-- Down Migration
-- Keys of later generations cannot be kept under one key per subject: their fields become
-- unreadable (as if erased), which is the safe direction for personal data.
DELETE FROM data_subject_keys WHERE generation > 1;
ALTER TABLE data_subject_keys DROP CONSTRAINT data_subject_keys_pkey;
ALTER TABLE data_subject_keys ADD PRIMARY KEY (subject_id);
ALTER TABLE data_subject_keys DROP COLUMN generation;
