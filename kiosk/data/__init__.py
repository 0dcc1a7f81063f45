"""The kiosk's data files: the message catalogues `messages.vi.json` and `messages.en.json`, read by `kiosk.i18n`.

No code lives here; this file makes the folder a package only so the catalogues are installed with the kiosk.
"""
