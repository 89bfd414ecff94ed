-- Mini-Sites control plane, schema version 8: secret-scan findings a tenant admin accepted.

-- A finding is accepted by rule and by the exact bytes of the file it was found in (SHA-256 of the
-- file, 64 lowercase hex): change one byte and the finding is new again, and the rule keeps refusing
-- every other file. There is no per-rule or per-site switch, and no global off switch (core/src/
-- pipeline.ts AcceptedFinding). Accepting and withdrawing are audited (finding.accept, finding.unaccept).
CREATE TABLE accepted_findings (
  tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  rule_id TEXT NOT NULL CHECK (length(rule_id) BETWEEN 1 AND 64),
  file_hash TEXT NOT NULL CHECK (length(file_hash) = 64 AND file_hash NOT GLOB '*[^0-9a-f]*'),
  -- Why it is not a secret, in the admin's words (shown next to it; at most 500 characters).
  note TEXT CHECK (note IS NULL OR length(note) <= 500),
  accepted_by TEXT NOT NULL,
  accepted_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, rule_id, file_hash)
);
