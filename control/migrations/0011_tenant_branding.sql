-- Mini-Sites control plane, schema version 11: a tenant's branding (DESIGN §4 — registration "never
-- overwrites names or branding that the owning app set").

-- The display name and support link the tenant's admin page shows. The owning Forge app proposes them
-- at every registration, but a value is written only where none is set yet (first write wins, field
-- by field, in one UPSERT, so sibling control Workers registering at once cannot overwrite each
-- other); afterwards only the tenant's admin changes them (PUT /v1/tenant/settings, audited). One row
-- per tenant, made on the first value; no row means no branding.
CREATE TABLE tenant_branding (
  tenant_id TEXT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  display_name TEXT CHECK (display_name IS NULL OR length(display_name) BETWEEN 1 AND 80),
  support_url TEXT CHECK (support_url IS NULL OR (length(support_url) <= 2048 AND support_url GLOB 'http*://*')),
  -- What set the values last: the owning app's registration or the tenant's admin. Never the admin's
  -- account id (that is personal data; the audit log's tenant.branding entry names who).
  updated_by TEXT NOT NULL CHECK (updated_by IN ('registration', 'admin')),
  updated_at INTEGER NOT NULL
);
