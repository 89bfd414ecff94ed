-- Mini-Sites control plane, schema version 6: the app's Marketplace license, as Forge last told us.

-- A FIT carries `app.license` for a paid app in production (Forge remote contract). API-token calls
-- carry none, so the tenant row keeps what the latest FIT said: an inactive license then refuses
-- publishing through every door. NULL = never told (development, staging, free): not enforced.
ALTER TABLE tenants ADD COLUMN license_state TEXT CHECK (license_state IS NULL OR license_state IN ('active', 'inactive'));
