-- Mini-Sites control plane, schema version 12: which accepted findings each version relied on.

-- A version whose bundle passed the secret scan only because a tenant admin accepted a finding (rule,
-- exact file bytes; migration 0008) records that acceptance here, in the same batch that stages the
-- version. When the admin later withdraws the acceptance — "that was a secret after all" — a rollback
-- to such a version is refused (ACCEPTANCE_WITHDRAWN) instead of bringing the file back to viewers.
-- Versions staged before this migration have no rows and roll back as before.
CREATE TABLE version_acceptances (
  tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  site_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  rule_id TEXT NOT NULL CHECK (length(rule_id) BETWEEN 1 AND 64),
  file_hash TEXT NOT NULL CHECK (length(file_hash) = 64 AND file_hash NOT GLOB '*[^0-9a-f]*'),
  PRIMARY KEY (site_id, version, rule_id, file_hash),
  FOREIGN KEY (site_id, version) REFERENCES versions (site_id, number) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, site_id) REFERENCES sites (tenant_id, id) ON DELETE CASCADE
);
-- "Which versions rely on this acceptance?" when an admin withdraws it.
CREATE INDEX version_acceptances_by_finding ON version_acceptances (tenant_id, rule_id, file_hash);
