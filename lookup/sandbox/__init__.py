"""The reference coordination server (FastAPI + SQLite) and its synthetic Vietnamese population."""
