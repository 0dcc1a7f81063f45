"""A deterministic synthetic Vietnamese population: people and households, their clinical histories, the facilities
that sign their documents, and the documents themselves. Made from (seed, index) alone; no server, no storage."""
