"""What tests and benchmarks both use: code images and camera frames, a clerk driving the kiosk app, a recording
outbox, and corrupted matching queries. Never imported by the product."""
