"""The domain every package shares: pydantic models (identifiers, demographics, scans, candidates, summaries,
outcomes), the identifier-system table, Vietnam's provinces and the one text normalisation. No I/O."""
