"""Small modal screens the kiosk reuses: a notice and the break-glass reason."""
