-- Up Migration

-- One AES-256 key per data subject (e.g. a customer). Events hold only ciphertext of
-- personal fields; erasing a subject destroys its key (crypto-shredding), so the events
-- stay immutable and loadable while the personal data becomes unreadable forever.
CREATE TABLE data_subject_keys (
  subject_id text        PRIMARY KEY,
  key        bytea,
  created_at timestamptz NOT NULL DEFAULT now(),
  erased_at  timestamptz,
  CONSTRAINT data_subject_keys_erased_has_no_key CHECK ((erased_at IS NULL) = (key IS NOT NULL))
);

-- Down Migration
DROP TABLE data_subject_keys;
