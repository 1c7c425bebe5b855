"""Institution names as site labels (attribution itself is in domain.indexing)."""

from __future__ import annotations

import unicodedata


def normalise_institution(institution_name: str) -> str | None:
    """InstitutionName as a site label: Unicode NFKC, runs of whitespace made one space, trimmed; None if empty.

    Case is kept as the hospital wrote it; callers that group sites compare case-insensitively if they must.
    """
    text = " ".join(unicodedata.normalize("NFKC", institution_name).split())
    return text or None
