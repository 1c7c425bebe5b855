"""Sites (hospitals) and the DICOM application entities that send images on their behalf."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from radscholar_core.errors import InvalidArgument

SITE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
# AE titles (PS3.5 VR AE): at most 16 characters of the default repertoire without backslash; we also
# keep them free of spaces and punctuation that would need escaping in URLs and Orthanc's modality names.
AE_TITLE = re.compile(r"^[A-Za-z0-9_.\-]{1,16}$")
HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


@dataclass(frozen=True)
class Modality:
    """A registered sender: Orthanc accepts C-STORE only from these AE titles, from these hosts."""

    ae_title: str
    site_id: str
    host: str
    port: int
    description: str = ""

    @classmethod
    def parse(cls, *, ae_title: str, site_id: str, host: str, port: int, description: str = "") -> Modality:
        ae_title = ae_title.strip()
        if not AE_TITLE.match(ae_title):
            raise InvalidArgument(
                f"AE title '{ae_title}' must be 1 to 16 letters, digits, '_', '-' or '.'", reason="INVALID_AE_TITLE"
            )
        host = host.strip()
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if not HOST_NAME.match(host):
                raise InvalidArgument(
                    f"host '{host}' is not an IP address or host name", reason="INVALID_HOST"
                ) from None
        if not 1 <= port <= 65535:
            raise InvalidArgument(f"port {port} is not between 1 and 65535", reason="INVALID_PORT")
        return cls(ae_title, site_id, host, port, description.strip()[:1000])


@dataclass(frozen=True)
class Site:
    """A hospital. Studies are attributed to it by upload route, C-STORE caller or InstitutionName."""

    id: str
    name: str
    institution_names: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, *, id: str, name: str, institution_names: list[str]) -> Site:
        id = id.strip()
        if not SITE_ID.match(id):
            raise InvalidArgument(
                f"site id '{id}' must be 1 to 63 lower-case letters, digits or '-', starting with a letter or digit",
                reason="INVALID_SITE_ID",
            )
        name = " ".join(name.split())
        if not name or len(name) > 200:
            raise InvalidArgument("a site needs a name of 1 to 200 characters", reason="INVALID_SITE_NAME")
        names = sorted({" ".join(n.split()) for n in institution_names if n.strip()})
        if any(len(n) > 64 for n in names):
            raise InvalidArgument("institution names are at most 64 characters (VR LO)", reason="INVALID_INSTITUTION")
        return cls(id, name, names)


@dataclass(frozen=True)
class SiteCounts:
    """A site with what it holds. `registered` is False for an institution that is not a registered site."""

    site: Site
    registered: bool
    modalities: list[Modality]
    patients: int
    studies: int
    series: int
    instances: int
    size_bytes: int
