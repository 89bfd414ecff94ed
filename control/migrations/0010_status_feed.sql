-- Mini-Sites control plane, schema version 10: a version may opt in to read its tenant's monitor feed
-- at `/__ms/status.json` on its site's origin (DESIGN §3; control/src/site-feeds.ts). Chosen at
-- publish time and part of the version, like its bytes: a rollback brings back the version's own
-- choice, and the gateway's opt-in key (`optin/<site>/<version>`) never has to change.
ALTER TABLE versions ADD COLUMN status_feed INTEGER NOT NULL DEFAULT 0 CHECK (status_feed IN (0, 1));

-- versions_content_is_immutable (0001) names its columns; this one is as immutable as they are.
CREATE TRIGGER versions_status_feed_is_immutable
BEFORE UPDATE OF status_feed ON versions
BEGIN
  SELECT RAISE(ABORT, 'VERSION_IMMUTABLE: a version''s status feed choice never changes');
END;
