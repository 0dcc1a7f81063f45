-- The shared cache's first tables: the same layout as a kiosk's own SQLite file (offline_cache/db.py), in
-- PostgreSQL's words. Nothing here is in clear: `sealed` and `reason` are AES-256-GCM ciphertexts, `*_mac` HMACs.
CREATE TABLE meta (name TEXT PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE records (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key_mac bytea NOT NULL UNIQUE,
    clinical INTEGER NOT NULL,
    stored_at double precision NOT NULL,
    last_used double precision NOT NULL,
    size INTEGER NOT NULL,
    sealed bytea NOT NULL
);
CREATE INDEX records_age ON records (stored_at, clinical, size);
CREATE INDEX records_last_used ON records (last_used);
CREATE TABLE record_index (
    index_mac bytea NOT NULL,
    record_id bigint NOT NULL REFERENCES records (id) ON DELETE CASCADE,
    PRIMARY KEY (index_mac, record_id)
);
CREATE INDEX record_index_record ON record_index (record_id);
CREATE TABLE outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind TEXT NOT NULL,
    idempotency_mac bytea NOT NULL UNIQUE,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL,
    due_at double precision NOT NULL,
    lease_until double precision,
    sealed bytea,
    reason bytea
);
CREATE INDEX outbox_due ON outbox (state, due_at);
