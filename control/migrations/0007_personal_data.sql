-- Mini-Sites control plane, schema version 7: personal data (Atlassian's personal data reporting API,
-- control/src/privacy/).

-- The only personal data the product keeps is Atlassian account ids (`forge:<accountId>` in the
-- *_by columns). They are reported to Atlassian on a weekly cycle; for an account Atlassian says is
-- closed, every row naming it is rewritten to `forge:closed~<random>` (one random value per account
-- and anonymization, so a tenant still sees that one person did these things, never who). A
-- version's publisher is otherwise immutable, so the trigger lets exactly that change through.
DROP TRIGGER versions_content_is_immutable;
CREATE TRIGGER versions_content_is_immutable
BEFORE UPDATE OF tenant_id, site_id, number, content_hash, message, size_bytes, file_count, published_by, created_at
ON versions
WHEN NOT (
  NEW.tenant_id = OLD.tenant_id AND NEW.site_id = OLD.site_id AND NEW.number = OLD.number
  AND NEW.content_hash = OLD.content_hash AND NEW.message IS OLD.message AND NEW.size_bytes = OLD.size_bytes
  AND NEW.file_count = OLD.file_count AND NEW.created_at = OLD.created_at
  AND (NEW.published_by = OLD.published_by
       OR (NEW.published_by GLOB 'forge:closed~*' AND OLD.published_by GLOB 'forge:*'))
)
BEGIN
  SELECT RAISE(ABORT, 'VERSION_IMMUTABLE: a version''s content columns never change');
END;

-- Audit rows are MAC-chained and never rewritten, so they name a Forge user by a random pseudonym
-- (`forge:~<pseudonym>`, one per tenant and account) and this table maps it back for the tenant's
-- admins. Anonymizing a closed account deletes its mapping: the rows still verify and no longer say
-- who it was — the pseudonym is random, so nothing (not even our keys) can link it again.
CREATE TABLE audit_actors (
  tenant_id TEXT NOT NULL,
  pseudonym TEXT NOT NULL CHECK (length(pseudonym) BETWEEN 8 AND 64 AND pseudonym NOT GLOB '*[^0-9a-f]*'),
  account_id TEXT NOT NULL CHECK (length(account_id) BETWEEN 1 AND 128),
  first_seen_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, pseudonym)
);
CREATE UNIQUE INDEX audit_actors_by_account ON audit_actors (tenant_id, account_id);

-- Each tenant's reporting cycle: a cycle walks the tenant's account ids in order, 90 per request,
-- across as many hourly runs as it takes (Atlassian may ask us to wait: `retry_after`), then rests
-- until the next one is due.
CREATE TABLE personal_data_reports (
  tenant_id TEXT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  cycle_started_at INTEGER,          -- the cycle in progress; NULL between cycles
  cursor TEXT,                       -- the last account id reported in it
  completed_at INTEGER,              -- when the last whole cycle ended
  accounts INTEGER NOT NULL DEFAULT 0 CHECK (accounts >= 0), -- reported in the current (or last) cycle
  closed INTEGER NOT NULL DEFAULT 0 CHECK (closed >= 0),     -- of which Atlassian said closed (anonymized)
  updated INTEGER NOT NULL DEFAULT 0 CHECK (updated >= 0),   -- of which Atlassian said updated
  retry_after INTEGER                -- not before this (ms): Atlassian answered 429
);
