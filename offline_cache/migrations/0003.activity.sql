-- The activity log of the admin console (offline_cache/activity.py): one row per action a kiosk audits, the same
-- table as schema step 3 of a kiosk's own file (offline_cache/db.py). `event_mac` is an HMAC and `event_sealed` an
-- AES-256-GCM ciphertext of the audit event's id; no column names a patient.
CREATE TABLE activity (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_mac bytea NOT NULL UNIQUE,
    event_sealed bytea NOT NULL,
    recorded_at double precision NOT NULL,
    recorded_hour INTEGER NOT NULL,
    kiosk TEXT NOT NULL,
    staff TEXT,
    mode TEXT NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    identifier_type TEXT,
    offline INTEGER NOT NULL,
    unsigned INTEGER NOT NULL,
    invalid INTEGER NOT NULL
);
CREATE INDEX activity_recorded ON activity (recorded_at);
CREATE INDEX activity_kiosk ON activity (kiosk, recorded_at);
CREATE INDEX activity_staff ON activity (staff, recorded_at);
