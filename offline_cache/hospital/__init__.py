"""A kiosk on the hospital's shared cache, with its own cache as the fallback: `HospitalCache`.

Records are written to both: the shared one so any kiosk of the hospital finds the patient with the coordination
server down, this kiosk's own so it still finds them with the LAN or the database down. A read asks this kiosk's
cache first (no network) and the shared one for what it lacks. Outgoing messages go to the shared outbox, which any
kiosk drains (a claim never hands one message to two kiosks); while the shared cache is unreachable they go to this
kiosk's own outbox, which this kiosk delivers itself, so nothing waits on the database coming back.

When an operation on the shared cache fails, the kiosk stops using it at once (no lookup waits on a dead database)
and reconnects in a background thread every `retry_seconds`; it uses it again from the first success. A shared
cache written under another hospital key, or on a schema this release does not know, is refused and not retried:
that needs a person (the reason is in `stats()` and `kiosk doctor`).
"""

from offline_cache.hospital.cache import HospitalCache
from offline_cache.hospital.link import SharedLink

__all__ = ["HospitalCache", "SharedLink"]
