-- Mini-Sites control plane, schema version 3: a site's name is unique in its tenant, ignoring case,
-- so people (and the CLI's `publish --site team-dashboard`) can name a site instead of quoting its id.
--
-- Case is folded as SQLite's NOCASE folds it: ASCII letters only. D1 has no ICU, and a fold computed
-- in the Worker could not be reproduced here for the rows that already exist; the same rule in the
-- index, the lookups (db/sites.ts) and this migration keeps every name findable.
--
-- Rows written before this version can share a name: two macros on one page both made "Mini-site on
-- page 123", and a fork copied its source's name. The oldest holder of each name keeps it; every
-- later one gets its own id appended, ` (<id>)` — ids are unique and random, so the new name is free
-- (a site already named exactly "<name> (<another site's id>)" would be the only clash). The name is
-- cut to 184 characters first so that the suffix (16 characters) keeps it within the 200 allowed.
UPDATE sites
SET name = substr(name, 1, 184) || ' (' || id || ')'
WHERE EXISTS (
  SELECT 1 FROM sites AS older
  WHERE older.tenant_id = sites.tenant_id
    AND older.name = sites.name COLLATE NOCASE
    AND (older.created_at < sites.created_at OR (older.created_at = sites.created_at AND older.id < sites.id))
);

-- Also the index of the name lookups (`GET /v1/sites?name=`, `publish --site NAME`).
CREATE UNIQUE INDEX sites_name_per_tenant ON sites (tenant_id, name COLLATE NOCASE);
