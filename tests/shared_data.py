"""The public test data kept beside the repository (`../shared/data`: Synthea bundles, FHIR examples,
HL7 v2 messages), or where PHB_SHARED_DATA points."""

from __future__ import annotations

import os
from pathlib import Path

SHARED_DATA = Path(os.environ.get("PHB_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
SYNTHEA_BUNDLES = SHARED_DATA / "synthea-r4" / "bundles"
