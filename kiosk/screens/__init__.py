"""The kiosk's full screens: waiting for a scan, search, candidates, summary, visit (check-in) and admin."""
