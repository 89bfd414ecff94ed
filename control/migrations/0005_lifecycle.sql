-- Mini-Sites control plane, schema version 5: lifecycle (DESIGN §3 Lifecycle, Copy semantics; §6.5, §6.9).

-- Uninstall: Forge's preUninstall marks the tenant `purging` with the moment its erasure may start.
-- Until then a reinstall (`avi:forge:installed:app`) restores it; after it, the cron erases it.
ALTER TABLE tenants ADD COLUMN purge_after INTEGER;

-- Pages Confluence says were trashed or deleted (page events). A trashed page's macros get no new
-- grants until it is restored; a deleted page's sites — those bound to no other page — are erased
-- once `purge_after` has passed. Keyed by tenant: an event only ever touches its own tenant's rows.
CREATE TABLE page_states (
  tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  content_id TEXT NOT NULL CHECK (length(content_id) BETWEEN 1 AND 200),
  state TEXT NOT NULL CHECK (state IN ('trashed', 'deleted')),
  changed_at INTEGER NOT NULL,
  purge_after INTEGER,
  PRIMARY KEY (tenant_id, content_id),
  CHECK ((state = 'deleted') = (purge_after IS NOT NULL))
);
CREATE INDEX page_states_due ON page_states (purge_after) WHERE purge_after IS NOT NULL;

-- Reconcile: user Workers in the namespace that no row knows. One is deleted only after it stayed
-- unknown for two passes, so a Worker provisioned between a listing and a query is never lost.
CREATE TABLE reconcile_orphans (
  worker_name TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  first_seen_at INTEGER NOT NULL,
  passes INTEGER NOT NULL CHECK (passes >= 1)
);

-- Where the next reconcile pass starts: passes walk the tenants a batch at a time (by id), so a pass
-- over ten thousand sites stays within a Worker's CPU limit and the walk resumes where it stopped.
CREATE TABLE reconcile_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  after_tenant TEXT NOT NULL
);
