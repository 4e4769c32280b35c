"""FHIR R4 at the edge: one module per resource, pure functions from PHB's objects to FHIR dicts."""
