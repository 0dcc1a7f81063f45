"""Reading and writing HL7 FHIR R4 JSON: the one Patient reader, search and match Bundles, signed facility
documents into summary sections, and a server's CapabilityStatement. Pure functions over parsed JSON; no I/O."""
