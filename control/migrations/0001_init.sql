-- Mini-Sites control plane, schema version 1 (DESIGN §3, §6).
--
-- Rules every table follows:
--   * Every row carries its tenant (`tenant_id` = the tenant's 3-byte short id, core ids.ts), and every
--     index used by a request starts with tenant_id, so a query that forgets the tenant cannot use it
--     and a listing of one tenant never scans another's rows (DESIGN §6.3).
--   * Times are integer milliseconds since the Unix epoch (UTC), written by the Worker, not by SQLite,
--     so tests can inject a clock.
--   * Enumerations are CHECKed here as well as in TypeScript: a bug or a hand-written UPDATE cannot
--     invent a state the code does not know.
-- D1 enforces foreign keys; ON DELETE CASCADE lets a tenant purge delete one tenants row and take its
-- sites, versions, jobs, bindings and tokens with it. The audit log has no foreign key: it outlives
-- the tenant (DESIGN §3 Lifecycle: "audit record kept").

-- A tenant is one installation of one Forge app on one Confluence site (app id + cloudId), so sibling
-- apps on the same site never see each other's data.
CREATE TABLE tenants (
  id TEXT PRIMARY KEY CHECK (length(id) = 5),       -- TenantShortId, random, allocated with retry
  forge_app_id TEXT NOT NULL CHECK (length(forge_app_id) BETWEEN 1 AND 200),
  cloud_id TEXT NOT NULL CHECK (length(cloud_id) BETWEEN 1 AND 200),
  installation_id TEXT NOT NULL CHECK (length(installation_id) BETWEEN 1 AND 300),
  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'purging')),
  created_at INTEGER NOT NULL,
  UNIQUE (forge_app_id, cloud_id)
);

CREATE TABLE sites (
  tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id TEXT NOT NULL PRIMARY KEY CHECK (length(id) = 13), -- SiteId: names the origin s-<id>.<SITES_DOMAIN>
  name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)), -- admin kill switch: 0 = no new grants
  live_version INTEGER CHECK (live_version BETWEEN 1 AND 16777215), -- NULL until the first flip
  not_found_handling TEXT NOT NULL DEFAULT 'none'
    CHECK (not_found_handling IN ('single-page-application', '404-page', 'none')),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  -- Target of the (tenant_id, site_id) foreign keys below: a child row can only name a site of its
  -- own tenant, so a bug that mixes tenants fails in the database, not in production data.
  UNIQUE (tenant_id, id)
);
-- Keyset pagination of one tenant's sites, newest first (10,000 sites page by page, no OFFSET scans).
CREATE INDEX sites_by_tenant ON sites (tenant_id, created_at DESC, id DESC);

-- One row per publish. The content columns never change (trigger below); only status moves, along
-- the transitions the trigger allows.
CREATE TABLE versions (
  tenant_id TEXT NOT NULL,
  site_id TEXT NOT NULL,
  number INTEGER NOT NULL CHECK (number BETWEEN 1 AND 16777215), -- MAX_SITE_VERSION (grants hold 3 bytes)
  content_hash TEXT NOT NULL CHECK (length(content_hash) = 64 AND content_hash NOT GLOB '*[^0-9a-f]*'),
  status TEXT NOT NULL CHECK (status IN ('staging', 'provisioning', 'live', 'failed', 'superseded')),
  failure_code TEXT CHECK (failure_code IS NULL OR length(failure_code) BETWEEN 1 AND 64),
  message TEXT CHECK (message IS NULL OR length(message) <= 1000),
  size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
  file_count INTEGER NOT NULL CHECK (file_count >= 0),
  published_by TEXT NOT NULL CHECK (length(published_by) BETWEEN 1 AND 200), -- an actor id, never a token
  created_at INTEGER NOT NULL,
  status_at INTEGER NOT NULL,
  PRIMARY KEY (site_id, number),
  FOREIGN KEY (tenant_id, site_id) REFERENCES sites (tenant_id, id) ON DELETE CASCADE,
  -- A failed version always says why; no other status carries a failure code.
  CHECK ((status = 'failed') = (failure_code IS NOT NULL))
);
CREATE INDEX versions_by_tenant_site ON versions (tenant_id, site_id, number DESC);
-- "Same content ⇒ the same version": the publish pipeline looks a bundle up by its hash.
CREATE INDEX versions_by_content ON versions (tenant_id, site_id, content_hash);

CREATE TRIGGER versions_content_is_immutable
BEFORE UPDATE OF tenant_id, site_id, number, content_hash, message, size_bytes, file_count, published_by, created_at
ON versions
BEGIN
  SELECT RAISE(ABORT, 'VERSION_IMMUTABLE: a version''s content columns never change');
END;

-- staging → provisioning → live | failed; live → superseded (a newer version went live);
-- superseded → provisioning (re-provisioned from R2 for a rollback) → live; superseded → live (instant
-- rollback to a kept Worker); staging → failed (rejected before provisioning). Nothing leaves failed.
CREATE TRIGGER versions_status_transitions
BEFORE UPDATE OF status ON versions
WHEN NEW.status <> OLD.status AND NOT (
  (OLD.status = 'staging' AND NEW.status IN ('provisioning', 'failed')) OR
  (OLD.status = 'provisioning' AND NEW.status IN ('live', 'failed')) OR
  (OLD.status = 'live' AND NEW.status = 'superseded') OR
  (OLD.status = 'superseded' AND NEW.status IN ('provisioning', 'live'))
)
BEGIN
  SELECT RAISE(ABORT, 'VERSION_TRANSITION: this status change is not allowed');
END;

-- Publish / rollback / re-provision jobs: what `GET /v1/jobs/{id}` reports.
CREATE TABLE jobs (
  tenant_id TEXT NOT NULL,
  id TEXT NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 16 AND 64),
  site_id TEXT NOT NULL,
  version INTEGER NOT NULL CHECK (version BETWEEN 1 AND 16777215),
  kind TEXT NOT NULL CHECK (kind IN ('publish', 'rollback', 'reprovision')),
  idempotency_key TEXT CHECK (idempotency_key IS NULL OR length(idempotency_key) BETWEEN 1 AND 255),
  state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
  step TEXT CHECK (step IS NULL OR length(step) <= 64),
  progress REAL NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1),
  error_code TEXT CHECK (error_code IS NULL OR length(error_code) <= 64),
  error_message TEXT CHECK (error_message IS NULL OR length(error_message) <= 1000),
  workflow_instance_id TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  FOREIGN KEY (tenant_id, site_id) REFERENCES sites (tenant_id, id) ON DELETE CASCADE,
  CHECK ((state = 'failed') = (error_code IS NOT NULL))
);
-- The same Idempotency-Key on the same site is the same job, never a second Worker.
CREATE UNIQUE INDEX jobs_idempotency ON jobs (tenant_id, site_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_by_site ON jobs (tenant_id, site_id, created_at DESC);
-- Reconcile reaps jobs stuck past a TTL: unfinished jobs by age (a cross-tenant maintenance scan).
CREATE INDEX jobs_unfinished ON jobs (updated_at) WHERE state IN ('queued', 'running');

-- Which site a Confluence macro shows: resolved from the FIT's signed cloudId / content id / local id,
-- never from a client-supplied site id (DESIGN §3 Serve).
CREATE TABLE macro_bindings (
  tenant_id TEXT NOT NULL,
  cloud_id TEXT NOT NULL CHECK (length(cloud_id) BETWEEN 1 AND 200),
  content_id TEXT NOT NULL CHECK (length(content_id) BETWEEN 1 AND 200),
  local_id TEXT NOT NULL CHECK (length(local_id) BETWEEN 1 AND 200),
  site_id TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, cloud_id, content_id, local_id),
  FOREIGN KEY (tenant_id, site_id) REFERENCES sites (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX macro_bindings_by_site ON macro_bindings (tenant_id, site_id);

-- API tokens for the CLI / MCP / CI. Only a hash is stored (the token is shown once at creation);
-- `prefix` is the few leading characters a person needs to tell tokens apart in a list.
CREATE TABLE api_tokens (
  tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id TEXT NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 8 AND 64), -- public id (`tok_…`), names it in lists and audit
  token_hash TEXT NOT NULL UNIQUE CHECK (length(token_hash) = 64 AND token_hash NOT GLOB '*[^0-9a-f]*'), -- SHA-256 hex
  prefix TEXT NOT NULL CHECK (length(prefix) BETWEEN 1 AND 32),
  label TEXT NOT NULL CHECK (length(label) BETWEEN 1 AND 200),
  scopes TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(scopes) AND json_type(scopes) = 'array'),
  created_by TEXT,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  last_used_at INTEGER,
  revoked_at INTEGER
);
CREATE INDEX api_tokens_by_tenant ON api_tokens (tenant_id, created_at DESC, id DESC);

-- Append-only keyed hash chain (DESIGN §6.8; control/src/audit/). `seq` is the INTEGER PRIMARY KEY, so
-- it is UNIQUE: of two concurrent appends that computed the same next seq, exactly one INSERT
-- succeeds and the other gets a constraint error and retries — the chain cannot fork, even though D1
-- has no interactive transactions. mac = HMAC(audit key, prev_mac ‖ canonical JSON of the row).
CREATE TABLE audit_log (
  seq INTEGER PRIMARY KEY CHECK (seq >= 1),
  prev_mac TEXT NOT NULL CHECK (length(prev_mac) = 64),
  mac TEXT NOT NULL CHECK (length(mac) = 64),
  key_id TEXT NOT NULL,                 -- which audit key made `mac` (rotation), never the key
  tenant_id TEXT,                        -- NULL for deployment-wide events (e.g. an unauthenticated denial)
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT,
  detail TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail) AND json_type(detail) = 'object'),
  at INTEGER NOT NULL
);
CREATE INDEX audit_log_by_tenant ON audit_log (tenant_id, seq);

-- The application never updates or deletes an audit row; these make an accidental UPDATE/DELETE fail.
-- (They do not stop someone with direct database access — the MAC chain is what detects that.)
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'AUDIT_APPEND_ONLY: audit rows are never updated');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'AUDIT_APPEND_ONLY: audit rows are never deleted');
END;
