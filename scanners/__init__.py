"""Pixels and keystrokes to `ScanResult`s: decoders, sources and payload parsers. No network, no UI."""
