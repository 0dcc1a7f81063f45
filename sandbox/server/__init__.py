"""The reference coordination server: the FastAPI application, its routes and OAuth2 scopes, SQLite storage and
loading, `$match`, and a runner that serves it on a free loopback port."""
