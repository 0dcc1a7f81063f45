-- Delivery receipts of the outbox, schema step 2 of a kiosk's own file (offline_cache/db.py): the kiosk that queued
-- a message (its name), and the server's id and time of what it made or found, each an AES-256-GCM ciphertext.
ALTER TABLE outbox ADD COLUMN kiosk TEXT;
ALTER TABLE outbox ADD COLUMN server_id bytea;
ALTER TABLE outbox ADD COLUMN server_time bytea;
CREATE INDEX outbox_listing ON outbox (created_at, kiosk);
