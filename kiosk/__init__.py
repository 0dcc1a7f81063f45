"""The kiosk: the Textual app, the command line and the settings; the only package wiring the others."""
