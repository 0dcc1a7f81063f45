"""What the kiosk app works with besides its screens, and how each is opened from the settings.

`KioskServices` (in `ports`) is what `kiosk.wiring` hands the app: the lookup service, the scanners' readers, the
trust list and the offline cache, each behind a `Lazy` so the first screen is up before they are built. `trust`
and `cache` are the one place the kiosk reads its trust-list file and opens its cache; the app, `kiosk scan`,
`kiosk lookup`, `kiosk cache` and `kiosk doctor` all go through them. `scanning` adapts the scanners to the app.
"""
