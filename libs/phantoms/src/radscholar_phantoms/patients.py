"""Fictitious but realistic patient and study identities (the PHI that de-identification must remove).

All names, numbers and addresses are invented; any resemblance to a real person is chance.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import numpy as np

from radscholar_phantoms.sites import Site

# fmt: off
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore",
    "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez",
    "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen",
    "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell",
    "Carter", "Roberts", "Schmidt", "Muller", "Schneider", "Fischer", "Weber", "Rossi", "Bianchi",
    "Dubois", "Moreau", "Jansen", "de Vries", "Kowalski", "Novak", "Andersson", "Nielsen", "O'Brien",
    "Murphy", "Kelly", "Tanaka", "Suzuki", "Kim", "Park", "Chen", "Wang", "Singh", "Patel", "Khan",
    "Ali", "Okafor", "Mensah", "Cohen", "Levi", "Smith-Jones", "MacDonald",
)
FEMALE_FIRST_NAMES = (
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah",
    "Karen", "Lisa", "Nancy", "Betty", "Margaret", "Sandra", "Ashley", "Emily", "Donna", "Michelle",
    "Carol", "Amanda", "Melissa", "Deborah", "Anna", "Maria", "Sofia", "Emma", "Julia", "Ingrid",
    "Yuki", "Mei", "Priya", "Fatima", "Amara", "Chiara", "Claire", "Helena", "Rosa", "Grace", "Ruth",
)
MALE_FIRST_NAMES = (
    "James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph", "Thomas", "Charles",
    "Christopher", "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven", "Paul", "Andrew",
    "Joshua", "Kenneth", "Kevin", "Brian", "George", "Timothy", "Ronald", "Edward", "Jason", "Hans",
    "Luca", "Pierre", "Jan", "Piotr", "Lars", "Hiroshi", "Wei", "Arjun", "Omar", "Kwame", "Samuel",
)
STREETS = (
    "Maple Avenue", "Oak Street", "Cedar Lane", "Elm Road", "Pine Court", "Birch Way", "Willow Drive",
    "Chestnut Street", "Hawthorn Close", "Meadow Lane", "Station Road", "Church Street", "Mill Lane",
)
# fmt: on


@dataclass(frozen=True)
class Patient:
    patient_id: str  # MRN-like, unique within a generation run
    family_name: str
    given_name: str
    sex: str  # "M" or "F"
    birth_date: dt.date
    address: str
    telephone: str
    weight_kg: float

    @property
    def dicom_name(self) -> str:
        """``Family^Given`` as DICOM PN."""
        return f"{self.family_name}^{self.given_name}"


@dataclass(frozen=True)
class Visit:
    """When and by whom the study was done."""

    study_date: dt.date
    study_time: dt.time
    accession_number: str
    study_id: str
    referring_physician: str  # DICOM PN
    performing_physician: str
    operator: str
    prior_study_date: dt.date

    def age_at(self, birth_date: dt.date) -> int:
        d = self.study_date
        return d.year - birth_date.year - ((d.month, d.day) < (birth_date.month, birth_date.day))


def run_unique_number(seed: int, kind: str, purpose: str, case_index: int, digits: int) -> int:
    """A ``digits``-digit number that looks random but is distinct for every case of one run."""
    modulus = 10**digits
    offset = int.from_bytes(hashlib.sha256(f"{seed}:{kind}:{purpose}".encode()).digest()[:8], "big")
    # 7_777_777 (odd, not a multiple of 5) is coprime to 10**digits: case -> number is one-to-one.
    return (offset + 7_777_777 * case_index) % modulus


def make_patient(
    rng: np.random.Generator,
    seed: int,
    kind: str,
    case_index: int,
    site: Site,
    *,
    sex: str | None = None,
    age_range: tuple[int, int] = (35, 85),
    study_date: dt.date,
) -> Patient:
    """A patient whose age at ``study_date`` falls in ``age_range``."""
    sex = sex or ("F" if rng.random() < 0.5 else "M")
    first = FEMALE_FIRST_NAMES if sex == "F" else MALE_FIRST_NAMES
    age_days = int(rng.integers(age_range[0] * 365 + 30, age_range[1] * 365 - 30))
    code = "".join(ch for ch in site.station_name if ch.isalpha())[:2].upper()
    return Patient(
        patient_id=f"{code}{run_unique_number(seed, kind, 'patient', case_index, 8):08d}",
        family_name=str(rng.choice(LAST_NAMES)),
        given_name=str(rng.choice(first)),
        sex=sex,
        birth_date=study_date - dt.timedelta(days=age_days),
        address=f"{int(rng.integers(1, 400))} {rng.choice(STREETS)}, {site.city}",
        telephone=f"555-{int(rng.integers(100, 1000)):03d}-{int(rng.integers(0, 10000)):04d}",
        weight_kg=round(float(rng.uniform(50.0, 95.0) if sex == "F" else rng.uniform(60.0, 110.0)), 1),
    )


def study_date(rng: np.random.Generator) -> dt.date:
    return dt.date(2019, 1, 2) + dt.timedelta(days=int(rng.integers(0, 6 * 365)))


def make_visit(rng: np.random.Generator, date: dt.date, seed: int, kind: str, case_index: int) -> Visit:
    def physician() -> str:
        return f"{rng.choice(LAST_NAMES)}^{rng.choice(FEMALE_FIRST_NAMES + MALE_FIRST_NAMES)}^^Dr."

    referring = physician()
    performing = physician()
    operator = f"{rng.choice(LAST_NAMES)}^{rng.choice(FEMALE_FIRST_NAMES + MALE_FIRST_NAMES)}"
    minutes = int(rng.integers(7 * 60, 19 * 60))
    return Visit(
        study_date=date,
        study_time=dt.time(minutes // 60, minutes % 60, int(rng.integers(0, 60))),
        accession_number=f"A{date:%y}{run_unique_number(seed, kind, 'accession', case_index, 7):07d}",
        study_id=str(1000 + case_index),
        referring_physician=referring,
        performing_physician=performing,
        operator=operator,
        prior_study_date=date - dt.timedelta(days=int(rng.integers(90, 1500))),
    )
