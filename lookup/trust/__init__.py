"""Trust: the pinned list of facility and card-issuer keys, and checking the signature on a facility document."""
