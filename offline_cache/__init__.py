"""The encrypted on-disk store and the outbox. Knows nothing of FHIR or of the other packages."""
