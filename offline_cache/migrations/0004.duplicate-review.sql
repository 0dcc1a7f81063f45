-- The review queue of possible duplicate patients (offline_cache/review.py), schema step 4 of a kiosk's own file
-- (offline_cache/db.py). `pair_mac` is an HMAC of the two record ids; `sealed` (the pair as found) and `decision`
-- (the record ids, the staff member) are AES-256-GCM ciphertexts. No column names a patient.
CREATE TABLE duplicate_pairs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pair_mac bytea NOT NULL UNIQUE,
    state TEXT NOT NULL,
    score double precision NOT NULL,
    found_at double precision NOT NULL,
    updated_at double precision NOT NULL,
    decided_at double precision,
    delivery TEXT,
    sealed bytea,
    decision bytea
);
CREATE INDEX duplicate_pairs_state ON duplicate_pairs (state, score);
CREATE INDEX duplicate_pairs_delivery ON duplicate_pairs (delivery);
