"""The encrypted on-disk store and the outbox. Knows nothing of FHIR or of the other packages.

`OfflineCache.open(directory, key_file=... | keyring=... | passphrase=..., ttl_seconds=...)` gives `.records` (a
`RecordCache` for `lookup`), `.outbox`, `.activity` (the admin console's activity log, `offline_cache.activity`),
`.review` (the review queue of possible duplicate patients, `offline_cache.review`), `.stats()`, `.purge()` and
`.close()`. Threat model: a stolen kiosk disk, a copied cache folder or another local
user. Nothing about a patient is in clear: records and outbox messages are AES-256-GCM ciphertexts, keys and index
keys are HMACs; the folder is 0700 and its files 0600. The key is what
protects them, and it never lives in the cache folder: an OS keyring entry, a key file elsewhere (0600, refused
inside the folder; an earlier version's `<folder>/key` is moved out on first open), or a passphrase under a strength
floor through Argon2id. An attacker with the running kiosk's memory or with the key reads everything; the
time-to-live bounds how much.
What a copied file does show: how many records and messages there are, their sizes and times, and which records
share an index key (equal blind indexes are equal), but not what that key is; and the activity log's rows: when,
on which kiosk, by which staff member, which action from which kind of identifier and how it ended, never whom.

Durability: WAL; a writer killed at any instant leaves a file that opens with every write it had returned from
(`tests/offline_cache/test_crash.py` kills one 200 times). Outbox messages are also flushed to the disk before
`append` returns (`synchronous=FULL`), so a power cut loses none; records are not (`NORMAL`), so a put costs no flush,
and a power cut may only forget the last records cached, which the next lookup fetches again (see `db.py`). A full
disk fails the write with `CacheFullError`, rolls it back, and leaves the file readable; writing resumes once there
is room.

Design note: the shared hospital-wide cache
--------------------------------------------
The kiosks of one hospital share one cache on PostgreSQL over the hospital LAN, so a patient seen at the ER desk is
found offline at reception too, and a kiosk that just rebooted is not cold. `offline_cache.shared.SharedCache` is
the shared cache; `offline_cache.hospital.HospitalCache` joins it with the kiosk's own file (the fallback when the
LAN or the database is down); `offline_cache.schema` keeps its tables by migrations; `offline_cache.cluster` runs a
PostgreSQL server for it (`kiosk hospital init`).

- Same code, same layout: the `RecordStore` and `MessageOutbox` of the SQLite file run unchanged on PostgreSQL,
  on `records(key_mac UNIQUE, clinical, stored_at, last_used, size, sealed)`, `record_index(index_mac, record_id)`
  and `outbox(...)`, with the same blind indexes (HMAC-SHA256 under the index key) and the same row-level
  AES-256-GCM with the row's `key_mac` as associated data. The database server never sees a key, an identifier or
  a name: a database administrator, a backup or a dump reveals as little as the kiosk's file.
- Keys: one hospital data key, wrapped by a KMS (or an HSM) and unwrapped by each kiosk at start with its own machine
  credential, instead of a per-kiosk key file (`SharedCache.connect(master_key=...)` takes the unwrapped key; the key
  check value in the database refuses another one). Key rotation is not built; it would re-encrypt in the
  background, each row carrying a key id, reads accepting the old and the new key, writes using the new one.
  Revoking one kiosk is revoking its KMS credential.
- Outbox claims: `SELECT ... FOR UPDATE SKIP LOCKED`, the row-lock form of an advisory-lock queue (a
  `pg_try_advisory_xact_lock(id)` filter would also lock rows the `LIMIT` then drops), so two kiosks never take the
  same message and never wait for each other; the lease (`lease_until`) still brings back the messages of a kiosk
  that died. Tables are made only by migrations, under yoyo's lock. Idempotency keys stay unique
  hospital-wide (their HMAC is the unique index), so the same check-in queued by two kiosks is sent once.
- Time-to-live and lobby rules stay per request: a lobby kiosk opens the shared cache with `clinical_allowed=False`,
  so it neither writes nor reads clinical rows; better, it gets a database role that cannot select clinical rows
  (row-level security on `clinical`), because a lobby kiosk is the least trusted.
- Threat model changes: the data now crosses the LAN (TLS with a pinned server certificate is required), one key
  opens every kiosk's data (a compromised kiosk exposes the whole hospital's cache, not one desk's: keep the TTL
  short and audit reads per kiosk role), the blind indexes are shared, so equal identifiers are linkable across
  kiosks by whoever holds the database (as they already are within one file), and the database becomes a dependency:
  each kiosk keeps its local SQLite cache as the fallback when the LAN or the database is down.
"""

from offline_cache.cache import DB_NAME, LEGACY_KEY_NAME, OfflineCache, discard, key_inside
from offline_cache.errors import CacheCorruptError, CacheError, CacheFullError, CacheKeyError
from offline_cache.key_store import KeyringEntry, keyring_problem
from offline_cache.outbox import DeliveryState, OutboxItem, OutboxMessage, OutboxState, RetryPolicy
from offline_cache.stats import CacheStats
from offline_cache.store import NewRecord, Record

__all__ = [
    "DB_NAME",
    "LEGACY_KEY_NAME",
    "CacheCorruptError",
    "CacheError",
    "CacheFullError",
    "CacheKeyError",
    "CacheStats",
    "DeliveryState",
    "KeyringEntry",
    "NewRecord",
    "OfflineCache",
    "OutboxItem",
    "OutboxMessage",
    "OutboxState",
    "Record",
    "RetryPolicy",
    "discard",
    "key_inside",
    "keyring_problem",
]
