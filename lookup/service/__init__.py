"""The lookup service: from an identity to a verified, consented summary, online or from the offline cache; the
steps of the protocol, the offline store, the audit trail and its outbox, reception check-in, ranking."""
