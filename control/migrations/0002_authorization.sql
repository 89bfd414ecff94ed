-- Mini-Sites control plane, schema version 2: authorization (DESIGN §6.4, §6.8, §6.9).

-- Audit chains per tenant. One global chain made every tenant's appends — and every denied anonymous
-- request — race for one head; now each tenant has its own chain ('tenant:<id>'), events with no
-- tenant go to 'deployment', and the rows written so far keep verifying as the read-only 'legacy'
-- chain (same seq, same MACs, MAC layout 1). Rows still have no foreign key: a tenant's chain outlives
-- the tenant (its erasure is recorded there), and db/tenants.ts never reuses the id of a tenant whose
-- chain exists.
CREATE TABLE audit_entries (
  chain TEXT NOT NULL CHECK (length(chain) BETWEEN 1 AND 64),
  seq INTEGER NOT NULL CHECK (seq >= 1),
  prev_mac TEXT NOT NULL CHECK (length(prev_mac) = 64),
  mac TEXT NOT NULL CHECK (length(mac) = 64),
  key_id TEXT NOT NULL,
  tenant_id TEXT,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT,
  detail TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail) AND json_type(detail) = 'object'),
  at INTEGER NOT NULL,
  PRIMARY KEY (chain, seq)
);

INSERT INTO audit_entries (chain, seq, prev_mac, mac, key_id, tenant_id, actor, action, target, detail, at)
  SELECT 'legacy', seq, prev_mac, mac, key_id, tenant_id, actor, action, target, detail, at FROM audit_log;

DROP TRIGGER audit_log_no_update;
DROP TRIGGER audit_log_no_delete;
DROP INDEX audit_log_by_tenant;
DROP TABLE audit_log;

CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN
  SELECT RAISE(ABORT, 'AUDIT_APPEND_ONLY: audit rows are never updated');
END;
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN
  SELECT RAISE(ABORT, 'AUDIT_APPEND_ONLY: audit rows are never deleted');
END;

-- Denied requests that carried no credential we could verify (no token, a malformed one, a forged
-- FIT): counted per minute, per code and method, instead of appended one by one to a chain — an
-- anonymous flood then costs one UPSERT per isolate per minute, and no tenant's appends wait for it.
CREATE TABLE denial_counts (
  window_start INTEGER NOT NULL,   -- ms, aligned to the counting window
  code TEXT NOT NULL CHECK (length(code) BETWEEN 1 AND 64),
  method TEXT NOT NULL CHECK (length(method) BETWEEN 1 AND 32),
  count INTEGER NOT NULL CHECK (count >= 0),
  PRIMARY KEY (window_start, code, method)
);

-- Why a version stopped being live: superseded by a newer publish, or rolled back away from. A viewer
-- may renew a grant for a version superseded by a publish for one grant lifetime (the page they have
-- open keeps working until they reload); a version rolled back away from is never renewed.
ALTER TABLE versions ADD COLUMN superseded_by TEXT CHECK (superseded_by IS NULL OR superseded_by IN ('publish', 'rollback'));

-- Editor uploads in flight (the macro's chunked upload, macro/uploads.ts). Issuing a ticket is a
-- publish attempt: it counts toward the tenant's publish rate and, with its declared size, toward the
-- byte quota until it completes; the maintenance cron deletes the bytes of tickets that expired
-- without completing. `completed_job_id` makes a repeated `complete` answer the same job.
CREATE TABLE upload_tickets (
  tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id TEXT NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 16 AND 64),
  site_id TEXT NOT NULL,
  size_bytes INTEGER NOT NULL CHECK (size_bytes >= 1),
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  completed_job_id TEXT,
  completed_version INTEGER,
  FOREIGN KEY (tenant_id, site_id) REFERENCES sites (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX upload_tickets_by_tenant ON upload_tickets (tenant_id, created_at);
CREATE INDEX upload_tickets_open ON upload_tickets (expires_at) WHERE completed_job_id IS NULL;
