"""Which site an instance belongs to: who sent it says more than what the file says about itself."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

from radscholar_dicomstore.domain.ingest.instance import CheckedInstance


def site_of(
    instance: CheckedInstance,
    *,
    route_site: str | None,
    calling_ae: str | None,
    ae_sites: Mapping[str, str],
) -> str | None:
    """The site, first found of: the upload route's site, the site registered for the C-STORE caller's AE
    title, the instance's InstitutionName (normalised); None when none of them says.
    """
    if route_site and route_site.strip():
        return route_site.strip()
    if calling_ae and calling_ae.strip():
        calling = calling_ae.strip()  # AE titles: spaces at either end are not significant (PS3.5 6.2)
        for ae_title, site in ae_sites.items():
            if ae_title.strip() == calling and site.strip():
                return site.strip()
    return normalise_institution(instance.institution_name)


def normalise_institution(institution_name: str) -> str | None:
    """InstitutionName as a site label: Unicode NFKC, runs of whitespace made one space, trimmed; None if empty.

    Case is kept as the hospital wrote it; callers that group sites compare case-insensitively if they must.
    """
    text = " ".join(unicodedata.normalize("NFKC", institution_name).split())
    return text or None
