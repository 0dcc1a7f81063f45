"""What the kiosk app keeps and reads besides widgets: the ports it needs from other packages, activity counts,
the demo hint, and the message catalogues (`messages.vi.json`, `messages.en.json`)."""
