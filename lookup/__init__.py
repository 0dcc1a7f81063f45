"""From an identity to verified records over HL7 FHIR R4: the domain model, matching, signatures, the client."""
