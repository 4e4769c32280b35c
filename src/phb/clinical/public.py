"""What other apps may use of the clinical record."""

from phb.clinical.news2 import score as news2_score
from phb.clinical.policies import care_relationship

__all__ = ["care_relationship", "news2_score"]

# --- documents: keep a file on a patient's record (a photo of a reported symptom, ...) -------------
from phb.clinical.documents import DocumentContent, document_open, document_store

__all__ += ["DocumentContent", "document_open", "document_store"]
