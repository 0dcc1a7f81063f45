"""SMART Health Links: the one `shlink:/` parser, and retrieval and decryption of what a link shares."""
