"""Sub-commands of `kiosk`, one module each, imported only when used."""
