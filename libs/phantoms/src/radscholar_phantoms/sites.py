"""Acquisition sites (hospitals) for multi-centre cohorts.

Each site has its own institution, address, scanners and a few acquisition habits (CT noise level and
reconstruction sharpness, MR field strength, detector gain), so that a multi-site cohort shows a mild,
realistic domain shift. The class rules of the lesions do not depend on the site.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Scanner:
    manufacturer: str
    model: str
    software_version: str


@dataclass(frozen=True)
class Site:
    site_id: str  # "site-a": folder name in the output layout
    display_name: str  # "Site A — St. Example Hospital"
    institution_name: str
    institution_address: str
    department: str
    station_name: str  # prefix; the modality is appended ("SEH-CT01")
    city: str
    ct: Scanner
    mr: Scanner
    dx: Scanner
    mg: Scanner
    ct_noise_hu: float  # standard deviation of the image noise in soft tissue
    ct_kernel: str
    ct_blur_voxels: float  # point-spread function (Gaussian sigma, in-plane voxels)
    mr_field_strength_t: float
    detector_gain: float  # relative brightness of DX/MG detectors

    def scanner(self, modality: str) -> Scanner:
        return {"CT": self.ct, "MR": self.mr, "DX": self.dx, "MG": self.mg}[modality]

    def to_dict(self) -> dict[str, Any]:
        return {
            "site_id": self.site_id,
            "display_name": self.display_name,
            "institution_name": self.institution_name,
            "institution_address": self.institution_address,
            "city": self.city,
            "manufacturers": {m: self.scanner(m).manufacturer for m in ("CT", "MR", "DX", "MG")},
            "ct_noise_hu": self.ct_noise_hu,
            "ct_kernel": self.ct_kernel,
            "mr_field_strength_t": self.mr_field_strength_t,
        }


_SIEMENS, _GE, _PHILIPS, _CANON = "SIEMENS", "GE MEDICAL SYSTEMS", "Philips", "CANON_MEC"

# fmt: off
# (institution, short code, address, city, CT, MR, DX, MG, noise, kernel, blur, tesla, gain)
_TEMPLATES: tuple[tuple[Any, ...], ...] = (
    (
        "St. Example Hospital", "SEH", "12 Example Street", "Springfield",
        Scanner(_SIEMENS, "SOMATOM Definition AS", "syngo CT VA48A"),
        Scanner(_SIEMENS, "MAGNETOM Skyra", "syngo MR E11"),
        Scanner(_SIEMENS, "Ysio Max", "VF10"),
        Scanner(_SIEMENS, "MAMMOMAT Revelation", "VA10"),
        12.0, "B31f", 0.55, 3.0, 1.0,
    ),
    (
        "Northfield University Medical Center", "NUMC", "400 College Avenue", "Northfield",
        Scanner(_GE, "Revolution CT", "revo_ct_22.1"),
        Scanner(_GE, "SIGNA Artist", "29.1"),
        Scanner(_GE, "Definium 656 HD", "DM_Platform_Release_4"),
        Scanner(_GE, "Senographe Pristina", "ADS_56.10"),
        18.0, "STANDARD", 0.75, 1.5, 0.94,
    ),
    (
        "Riverside General Hospital", "RGH", "7 Riverbank Road", "Riverside",
        Scanner(_PHILIPS, "Ingenuity CT", "4.1.4"),
        Scanner(_PHILIPS, "Ingenia", "5.7.1"),
        Scanner(_PHILIPS, "DigitalDiagnost C90", "5.1.2"),
        Scanner(_PHILIPS, "MammoDiagnost DR", "1.5"),
        15.0, "B", 0.65, 3.0, 1.05,
    ),
    (
        "Lakeview Clinic", "LVC", "1550 Shore Drive", "Lakeview",
        Scanner(_CANON, "Aquilion ONE", "V10.6"),
        Scanner(_CANON, "Vantage Orian", "V6.0"),
        Scanner(_CANON, "RADREX-i", "V3.1"),
        Scanner("HOLOGIC, Inc.", "Selenia Dimensions", "1.11.1"),
        14.0, "FC08", 0.6, 1.5, 0.97,
    ),
    (
        "Mount Placeholder Cancer Institute", "MPCI", "88 Summit Lane", "Mount Placeholder",
        Scanner(_SIEMENS, "SOMATOM Force", "syngo CT VB20A"),
        Scanner(_SIEMENS, "MAGNETOM Vida", "syngo MR XA50"),
        Scanner(_SIEMENS, "Multix Impact", "VA20"),
        Scanner(_SIEMENS, "MAMMOMAT Inspiration", "VB30"),
        10.0, "Br40d", 0.5, 3.0, 1.02,
    ),
    (
        "Harbor City Regional Hospital", "HCRH", "3 Pier Street", "Harbor City",
        Scanner(_GE, "Optima CT660", "gmp_vct.42"),
        Scanner(_GE, "SIGNA Explorer", "28.0"),
        Scanner(_GE, "Discovery XR656", "DM_Platform_Release_3"),
        Scanner(_GE, "Senographe Essential", "ADS_54.10"),
        20.0, "LUNG", 0.7, 1.5, 0.92,
    ),
)
# fmt: on


def _letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA ..."""
    letters = ""
    n = index
    while True:
        letters = string.ascii_uppercase[n % 26] + letters
        n = n // 26 - 1
        if n < 0:
            return letters


def make_sites(count: int) -> tuple[Site, ...]:
    """The first ``count`` sites: six distinct hospitals, then numbered branches of them."""
    if count < 1:
        raise ValueError(f"sites must be at least 1, got {count}")
    sites = []
    for index in range(count):
        (name, code, street, city, ct, mr, dx, mg, noise, kernel, blur, tesla, gain) = _TEMPLATES[
            index % len(_TEMPLATES)
        ]
        branch = index // len(_TEMPLATES)
        if branch:
            name = f"{name} - Branch {branch + 1}"
            code = f"{code}{branch + 1}"
        letters = _letters(index)
        sites.append(
            Site(
                site_id=f"site-{letters.lower()}",
                display_name=f"Site {letters} — {name}",
                institution_name=name,
                institution_address=f"{street}, {city}",
                department="Department of Radiology",
                station_name=code,
                city=city,
                ct=ct,
                mr=mr,
                dx=dx,
                mg=mg,
                ct_noise_hu=noise,
                ct_kernel=kernel,
                ct_blur_voxels=blur,
                mr_field_strength_t=tesla,
                detector_gain=gain,
            )
        )
    return tuple(sites)
