"""Talking to one FHIR server over HTTP: the async client (tokens, retries, deadlines, circuit breaker), how it is
configured, and the one exception type every failure becomes."""
