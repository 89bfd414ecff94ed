-- Mini-Sites control plane, schema version 4: a tenant's own settings (DESIGN §3 Serve).

-- The CSP allow-lists a tenant admin sets for its sites: extra sources for scripts, styles, images
-- and fonts (CDNs), and for network calls (connect-src). JSON arrays of host sources, checked by
-- core/src/csp.ts on the way in and again where the policy is built. One row per tenant, made on the
-- first change; no row means the deployment's defaults.
CREATE TABLE tenant_settings (
  tenant_id TEXT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  cdn_allow_list TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(cdn_allow_list) AND json_type(cdn_allow_list) = 'array'),
  connect_allow_list TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(connect_allow_list) AND json_type(connect_allow_list) = 'array'),
  updated_by TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
