-- Mini-Sites control plane, schema version 9: tenant keys, report channels and monitors (DESIGN §3
-- "Monitors and tenant keys").

-- Each tenant's Ed25519 key pair for signed reports. The private key is stored only wrapped
-- (AES-256-GCM under the deployment's `tenant-key-wrap` key, HKDF from APP_PSK; control/src/monitors/
-- keys.ts); `wrap_key_id` names the wrapping key, so a rotated APP_PSK can still unwrap and re-wrap.
-- At most one `current` key per tenant (the unique index below settles concurrent registrations: the
-- first insert wins, every other registration reads the winner); during a rotation the old key is
-- `previous` until `accept_until`, and the one before it is deleted.
CREATE TABLE tenant_keys (
  tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  key_id TEXT NOT NULL CHECK (length(key_id) = 16 AND key_id NOT GLOB '*[^0-9a-f]*'),
  public_key TEXT NOT NULL CHECK (length(public_key) = 43),
  wrapped_private_key TEXT NOT NULL,
  wrap_key_id TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('current', 'previous')),
  created_at INTEGER NOT NULL,
  -- Previous keys only: the Forge side accepts them until then (ms since the epoch).
  accept_until INTEGER,
  PRIMARY KEY (tenant_id, key_id)
);
CREATE UNIQUE INDEX tenant_keys_one_current ON tenant_keys (tenant_id) WHERE state = 'current';

-- Where a tenant's signed reports go: the Forge app's web trigger URL, given by the app's own
-- function at registration (a FIT without a user: only Forge can sign one).
CREATE TABLE report_channels (
  tenant_id TEXT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  url TEXT NOT NULL CHECK (length(url) <= 2048),
  updated_at INTEGER NOT NULL
);

-- A tenant's health checks. `state` moves only with the check that observed the change, in the same
-- batch as the report it queues (monitor_reports), so a crash between them can neither lose nor
-- duplicate a state change.
CREATE TABLE monitors (
  tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  url TEXT NOT NULL CHECK (length(url) <= 2048),
  method TEXT NOT NULL CHECK (method IN ('GET', 'HEAD')),
  expected_min INTEGER NOT NULL CHECK (expected_min BETWEEN 100 AND 599),
  expected_max INTEGER NOT NULL CHECK (expected_max BETWEEN expected_min AND 599),
  timeout_ms INTEGER NOT NULL CHECK (timeout_ms BETWEEN 1000 AND 30000),
  interval_seconds INTEGER NOT NULL CHECK (interval_seconds BETWEEN 60 AND 86400),
  state TEXT NOT NULL DEFAULT 'unknown' CHECK (state IN ('unknown', 'up', 'down')),
  state_changed_at INTEGER,
  last_checked_at INTEGER,
  last_status INTEGER,
  last_latency_ms INTEGER,
  last_error TEXT,
  next_check_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX monitors_name ON monitors (tenant_id, name COLLATE NOCASE);
CREATE INDEX monitors_due ON monitors (next_check_at);

-- Check results, bounded per monitor by age and count (control/src/monitors/store.ts): enough for
-- the 7-day uptime and the status macro's chart.
CREATE TABLE monitor_results (
  tenant_id TEXT NOT NULL,
  monitor_id TEXT NOT NULL,
  checked_at INTEGER NOT NULL,
  ok INTEGER NOT NULL CHECK (ok IN (0, 1)),
  status INTEGER,
  latency_ms INTEGER,
  error TEXT,
  PRIMARY KEY (tenant_id, monitor_id, checked_at),
  FOREIGN KEY (tenant_id, monitor_id) REFERENCES monitors (tenant_id, id) ON DELETE CASCADE
);

-- The outbox of signed reports: a state change is queued in the same batch that changes the
-- monitor's state, then pushed (signed at send time with the tenant's current key) until the web
-- trigger answers 2xx or the report expires.
CREATE TABLE monitor_reports (
  tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  monitor_id TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  delivered_at INTEGER,
  abandoned_at INTEGER,
  last_error TEXT,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX monitor_reports_pending ON monitor_reports (next_attempt_at)
  WHERE delivered_at IS NULL AND abandoned_at IS NULL;
