"""DICOM de-identification: PS3.15 Annex E basic profile with consistent per-project pseudonyms.

Used on ingest (before an instance is stored, when the project asks for it) and to make a
de-identified copy on demand. ``deidentify`` changes a pydicom ``Dataset`` in place and returns a
report of what it removed or changed (tag, keyword, action; never a value). ``deidentified_copy``
leaves its input alone.

Which library, and why. The action of each attribute comes from ``dicom-anonymizer``
(KitwareMedical, BSD): its transcription of PS3.15 Table E.1-1 is versioned by DICOM release
(2023e, 2024b, 2026c, regenerated from the standard's own tables) and needs nothing but pydicom.
Its operators give the dummy (D) and empty (Z) values of ordinary VRs. The two others were tried on
a phantom and set aside: ``dicognito`` replaces chosen VRs (names, UIDs, IDs, dates) with plausible
fakes rather than applying Table E.1-1, and left ImageComments and AdditionalPatientHistory with the
patient's name in them; ``deid``'s default recipe is a hand-curated list (``REMOVE endswith:Date``),
not the table: it kept ImageComments, InstitutionName and InstitutionAddress, and removed
SOPInstanceUID outright, which breaks the hierarchy. ``idiscore`` carries the table with its option
columns, but its only release installable here pins Pillow < 11. Orthanc's own anonymization is no
fit either: it gives fresh random UIDs and names each time, so the same patient would not get the
same pseudonym, and it needs a round trip to the server before the instance is stored.

What RadScholar adds, because ``dicom-anonymizer`` lacks it: it walks every nested sequence item
(the library applies the table to top-level attributes only); pseudonyms, UIDs and date offsets are
keyed hashes (HMAC-SHA256 with the project's secret) instead of random values kept in a
process-wide dict, so they are the same in every run and process of a project and differ between
projects; the three options researchers asked for; a report per instance. Its choices:

* PatientName and PatientID become ``<prefix><10 hex>`` of HMAC(secret, IssuerOfPatientID +
  PatientID). Without a PatientID the StudyInstanceUID stands in, so such a study is its own patient.
* Every instance UID (U in the table, and any other UI element except class, transfer syntax and
  coding scheme UIDs and DICOM's own ``1.2.840.10008.`` UIDs) becomes ``2.25.<UUID>``, the UUID
  (RFC 9562 version 8) built from HMAC(secret, UID). The same UID maps the same wherever it occurs,
  so series, studies, frames of reference and references keep matching.
* Sequences marked X/Z/U* (Referenced / Source Image Sequence) are kept and processed item by item.
  A sequence marked D, X/D, Z/D or X/Z/D (e.g. Content Sequence, Institution Code Sequence) is
  removed: a generic dummy item cannot be built, and its items hold codes and text the table does
  not list (stricter than the profile).
* Dates are never kept. With ``retain_longitudinal_dates`` (option 113107), every DA and DT is
  moved back by whole days, the same number for every date of one patient (1 to 3650 days, keyed on
  the patient), so intervals survive; times of day are kept. The birth date is always emptied (Z):
  with patient characteristics, Patient's Age remains. Without the option, DA/DT attributes the
  table does not list are emptied too (stricter than the profile).
* ``retain_patient_characteristics`` (113108) keeps the attributes marked K in that option's column
  (sex, age, size, weight, ethnic group, smoking and pregnancy status...). Those marked C there
  (allergies, patient state, pre-medication, special needs) are free text and are removed.
* ``clean_descriptors`` (113105): no library here can clean free text, so only an allowlist of short
  descriptors from the option's column (study, series, protocol, procedure descriptions...) is kept,
  scrubbed of the instance's own identifiers (names, IDs, institution, station), of date-like
  strings, runs of five or more digits and titled names ("Dr. X"). Free-text comments, history and
  notes are removed even with the option.
* A person name (PN) the table does not list is emptied, like an unlisted date (stricter).
* All private elements are removed; pixel data is never touched (no Clean Pixel Data option: the
  report says when the instance declares burned-in annotation).
* The Part 10 preamble is zeroed. PatientIdentityRemoved, DeidentificationMethod,
  DeidentificationMethodCodeSequence (PS3.16 CID 7050) and LongitudinalTemporalInformationModified
  are set.

Running it twice gives pseudonyms of pseudonyms: store the de-identified copy, not a second pass.
On an error the dataset may be half changed: discard it (``deidentified_copy`` never changes its input).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import hmac
import importlib.metadata
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from dicomanonymizer.dicomfields_selector import dicom_anonymization_database_selector
from dicomanonymizer.simpledicomanonymizer import empty_element, replace_element
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.sr.codedict import codes
from pydicom.tag import BaseTag, Tag

from radscholar_core.errors import InvalidArgument

ANNEX_E_TABLE = "dicomfields_2026c"
"""The ``dicom-anonymizer`` transcription of PS3.15 Table E.1-1 in use (DICOM 2026c)."""

# Table E.1-1 action codes by the library's category names (in the order the library applies them).
_CATEGORY_CODES = {
    "D_TAGS": "D",
    "Z_TAGS": "Z",
    "X_TAGS": "X",
    "U_TAGS": "U",
    "Z_D_TAGS": "Z/D",
    "X_Z_TAGS": "X/Z",
    "X_D_TAGS": "X/D",
    "X_Z_D_TAGS": "X/Z/D",
    "X_Z_U_STAR_TAGS": "X/Z/U*",
}
_DUMMY_CODES = frozenset({"D", "Z/D", "X/D", "X/Z/D"})  # the library resolves these to D
_EMPTY_CODES = frozenset({"Z", "X/Z"})  # ... and these to Z

# Retain Patient Characteristics Option: the attributes marked K in its column of Table E.1-1.
PATIENT_CHARACTERISTICS = frozenset(
    {
        "EthnicGroup",
        "EthnicGroupCodeSequence",
        "PatientAge",
        "PatientSex",
        "PatientSexNeutered",
        "PatientSize",
        "PatientWeight",
        "PregnancyStatus",
        "SelectorASValue",
        "SmokingStatus",
    }
)
# Clean Descriptors Option: short descriptors (C in its column) kept after scrubbing. Everything
# else in that column (comments, history, notes, free text) follows the basic profile.
CLEANED_DESCRIPTORS = frozenset(
    {
        "AcquisitionDeviceProcessingDescription",
        "AcquisitionProtocolDescription",
        "ClinicalTrialSeriesDescription",
        "ClinicalTrialTimePointDescription",
        "ContrastBolusAgent",
        "DerivationDescription",
        "MultienergyAcquisitionDescription",
        "PerformedProcedureStepDescription",
        "ProtocolName",
        "RequestedContrastAgent",
        "RequestedProcedureDescription",
        "RequestedSeriesDescription",
        "ScheduledProcedureStepDescription",
        "SeriesDescription",
        "StudyDescription",
    }
)
# Values a descriptor is scrubbed of, besides every person name (PN) in the instance.
_IDENTIFYING_TEXT = frozenset(
    {
        "AccessionNumber",
        "DeviceSerialNumber",
        "InstitutionAddress",
        "InstitutionName",
        "InstitutionalDepartmentName",
        "IssuerOfPatientID",
        "OtherPatientIDs",
        "PatientAddress",
        "PatientID",
        "PatientTelephoneNumbers",
        "StationName",
        "StudyID",
    }
)
# UI elements that name a definition (a class, syntax or coding scheme), not an instance.
_DEFINITION_UIDS = frozenset(
    {"TransferSyntaxUID", "CodingSchemeUID", "MappingResourceUID", "ContextUID", "ContextGroupExtensionCreatorUID"}
)
# File meta elements that name the sending site (not in Table E.1-1, which covers the data set).
_FILE_META_REMOVED = frozenset({0x00020016, 0x00020017, 0x00020018, 0x00020026, 0x00020027, 0x00020028})
_PSEUDONYMISED = frozenset({"PatientName", "PatientID"})
_DEIDENTIFICATION_ATTRIBUTES = frozenset({0x00120062, 0x00120063, 0x00120064, 0x00280303})  # set by us, after the walk

_MAX_SHIFT_DAYS = 3650
_PREFIX = re.compile(r"[A-Za-z0-9_-]{0,16}")
_DATE_LIKE = re.compile(r"\b\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}\b")
_LONG_NUMBER = re.compile(r"\d{5,}")
_TITLED_NAME = re.compile(r"\b(?:Dr|Prof|Mrs|Mr|Ms|Miss)\b\.?\s*[A-Z][\w'-]*")
_NAME_SPLIT = re.compile(r"[\^=\s,;]+")


class DeidentificationAction(StrEnum):
    """What happened to one element."""

    REMOVED = "removed"  # X, and every private element
    EMPTIED = "emptied"  # Z: zero-length value (an empty sequence for SQ)
    REPLACED = "replaced"  # D: a dummy value consistent with the VR
    PSEUDONYMISED = "pseudonymised"  # PatientName / PatientID: the project's pseudonym
    UID_REMAPPED = "uid_remapped"  # U: the keyed UID
    SHIFTED = "shifted"  # a date moved by the patient's offset
    CLEANED = "cleaned"  # a descriptor scrubbed of identifiers


@dataclass(frozen=True)
class DeidentificationPolicy:
    """A project's de-identification settings. ``secret`` keys every pseudonym, UID and date shift."""

    secret: bytes = field(repr=False)
    retain_longitudinal_dates: bool = False
    retain_patient_characteristics: bool = False
    clean_descriptors: bool = False
    pseudonym_prefix: str = "RS-"

    def __post_init__(self) -> None:
        if not isinstance(self.secret, bytes) or len(self.secret) < 16:
            raise InvalidArgument(
                "the de-identification secret must be at least 16 bytes", reason="WEAK_DEIDENTIFICATION_SECRET"
            )
        if not _PREFIX.fullmatch(self.pseudonym_prefix):
            raise InvalidArgument(
                f"pseudonym_prefix '{self.pseudonym_prefix}' must be at most 16 letters, digits, '-' or '_'",
                reason="INVALID_PSEUDONYM_PREFIX",
            )

    def pseudonym(self, patient_key: str) -> str:
        """The project's pseudonym for one patient (PatientName and PatientID of the copy)."""
        return self.pseudonym_prefix + self._digest("patient", patient_key).hex()[:10]

    def uid(self, original: str) -> str:
        """The project's replacement for one UID: ``2.25.`` and a version 8 UUID from the keyed hash."""
        value = int.from_bytes(self._digest("uid", original)[:16], "big")
        value = (value & ~(0xF << 76)) | (0x8 << 76)  # version 8 (RFC 9562, custom)
        value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 / 9562 variant
        return f"2.25.{value}"

    def date_offset_days(self, patient_key: str) -> int:
        """The patient's date shift: the same negative number of days for every date of the patient."""
        return -(1 + int.from_bytes(self._digest("date-shift", patient_key)[:8], "big") % _MAX_SHIFT_DAYS)

    def method_codes(self) -> tuple[str, ...]:
        """PS3.16 CID 7050 codes of the profile and the options applied."""
        cid = codes.cid7050
        applied = [cid.BasicApplicationConfidentialityProfile]
        if self.clean_descriptors:
            applied.append(cid.CleanDescriptorsOption)
        if self.retain_longitudinal_dates:
            applied.append(cid.RetainLongitudinalTemporalInformationModifiedDatesOption)
        if self.retain_patient_characteristics:
            applied.append(cid.RetainPatientCharacteristicsOption)
        return tuple(code.value for code in applied)

    def _digest(self, purpose: str, value: str) -> bytes:
        return hmac.new(self.secret, f"{purpose}\x00{value}".encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class ElementChange:
    """One element removed or changed: where and how, never its value."""

    path: str  # keywords from the top, e.g. "SourceImageSequence[0].ReferencedSOPInstanceUID"
    tag: str  # "(0008,1155)"
    keyword: str  # "" for private and unknown elements
    action: DeidentificationAction


@dataclass(frozen=True)
class DeidentificationReport:
    """What one run did to one instance."""

    pseudonym: str
    method_codes: tuple[str, ...]
    changes: tuple[ElementChange, ...]
    burned_in_annotation: bool  # the instance says its pixels carry text: pixels were not cleaned

    def summary(self) -> dict[str, int]:
        """Number of elements per action."""
        return dict(Counter(change.action.value for change in self.changes))

    def with_action(self, action: DeidentificationAction) -> list[ElementChange]:
        return [change for change in self.changes if change.action is action]


def deidentify(dataset: Dataset, policy: DeidentificationPolicy) -> DeidentificationReport:
    """De-identify ``dataset`` in place (file meta included) and report what changed."""
    run = _Run(policy, dataset)
    run.walk(dataset, "", top=True)
    file_meta = getattr(dataset, "file_meta", None)
    if file_meta is not None:
        run.walk_file_meta(file_meta)
    if getattr(dataset, "preamble", None):
        dataset.preamble = b"\x00" * 128  # a dual-personality (e.g. TIFF) preamble can carry anything
    _mark(dataset, policy)
    return DeidentificationReport(
        pseudonym=run.pseudonym,
        method_codes=policy.method_codes(),
        changes=tuple(run.changes),
        burned_in_annotation=run.burned_in_annotation,
    )


def deidentified_copy(dataset: Dataset, policy: DeidentificationPolicy) -> tuple[Dataset, DeidentificationReport]:
    """A de-identified copy of ``dataset``; the original is left as it was."""
    result = copy.deepcopy(dataset)
    return result, deidentify(result, policy)


@dataclass(frozen=True)
class _BasicProfile:
    single: dict[int, str]
    repeating: tuple[tuple[int, int, int, int, str], ...]  # group, element, group mask, element mask, code

    def code(self, tag: BaseTag) -> str | None:
        found = self.single.get(int(tag))
        if found is not None:
            return found
        for group, element, group_mask, element_mask, code in self.repeating:
            if tag.group & group_mask == group & group_mask and tag.element & element_mask == element & element_mask:
                return code
        return None


@functools.cache
def basic_profile() -> _BasicProfile:
    """Table E.1-1 as action codes by tag, from ``dicom-anonymizer``."""
    table = dicom_anonymization_database_selector(ANNEX_E_TABLE)
    single: dict[int, str] = {}
    repeating: list[tuple[int, int, int, int, str]] = []
    for category, code in _CATEGORY_CODES.items():
        for entry in table[category]:
            if len(entry) == 2:
                single[int(Tag(entry[0], entry[1]))] = code
            else:
                repeating.append((entry[0], entry[1], entry[2], entry[3], code))
    return _BasicProfile(single=single, repeating=tuple(repeating))


def deidentification_method() -> list[str]:
    """DeidentificationMethod (LO, each value at most 64 characters)."""
    version = importlib.metadata.version("dicom-anonymizer")
    return [
        "RadScholar PS3.15 Annex E",
        f"Table E.1-1 {ANNEX_E_TABLE.removeprefix('dicomfields_')} (dicom-anonymizer {version})",
    ]


class _Run:
    """One pass over one instance."""

    def __init__(self, policy: DeidentificationPolicy, dataset: Dataset) -> None:
        self.policy = policy
        self.profile = basic_profile()
        self.changes: list[ElementChange] = []
        self.patient_key = _patient_key(dataset)
        self.pseudonym = policy.pseudonym(self.patient_key)
        self.offset = timedelta(days=policy.date_offset_days(self.patient_key))
        self.burned_in_annotation = str(dataset.get("BurnedInAnnotation", "")).upper() == "YES"
        self.identifiers = _identifiers(dataset) if policy.clean_descriptors else []
        # Elements already handled, by id. A dataset built in memory (highdicom, deepcopy-free
        # copies) can hold one element object in two places; it must not be remapped twice. The
        # objects are kept so that no id is reused during the run.
        self.seen: dict[int, DataElement] = {}

    def walk(self, dataset: Dataset, path: str, *, top: bool = False) -> None:
        pseudonym = self._pseudonym_in(dataset)  # before PatientID or its issuer change
        for tag in sorted(dataset.keys()):
            element = dataset[tag]
            if id(element) in self.seen:
                continue
            self.seen[id(element)] = element
            keyword = element.keyword or ""
            where = f"{path}{keyword or _tag_text(element.tag)}"
            if top and int(element.tag) in _DEIDENTIFICATION_ATTRIBUTES:
                continue  # replaced by _mark
            action = self._element(dataset, element, where, pseudonym)
            if action is not None:
                self.changes.append(ElementChange(where, _tag_text(element.tag), keyword, action))

    def walk_file_meta(self, file_meta: Dataset) -> None:
        for tag in sorted(file_meta.keys()):
            element = file_meta[tag]
            where = f"file_meta.{element.keyword}"
            action: DeidentificationAction | None = None
            if int(element.tag) in _FILE_META_REMOVED:
                del file_meta[tag]
                action = DeidentificationAction.REMOVED
            elif element.VR == "UI" and self.profile.code(element.tag) == "U":
                action = self._remap_uids(element)
            if action is not None:
                self.changes.append(ElementChange(where, _tag_text(element.tag), element.keyword, action))

    def _element(
        self, dataset: Dataset, element: DataElement, where: str, pseudonym: str
    ) -> DeidentificationAction | None:
        tag, vr, keyword = element.tag, element.VR, element.keyword or ""
        policy = self.policy
        if tag.is_private or (tag.element == 0 and tag.group > 0x0002):  # private, or stale group length
            del dataset[tag]
            return DeidentificationAction.REMOVED
        if keyword in _PSEUDONYMISED:
            element.value = pseudonym
            return DeidentificationAction.PSEUDONYMISED
        if policy.retain_patient_characteristics and keyword in PATIENT_CHARACTERISTICS:
            return None
        if policy.clean_descriptors and keyword in CLEANED_DESCRIPTORS and vr != "SQ":
            return self._clean(element)
        code = self.profile.code(tag)
        if vr in ("DA", "DT"):
            if policy.retain_longitudinal_dates and keyword != "PatientBirthDate":
                return self._shift(element)
            return _apply(dataset, element, code or "Z")
        if vr == "TM" and policy.retain_longitudinal_dates:
            return None  # whole-day shifts keep the time of day
        if vr == "UI" and code not in ("X", *_EMPTY_CODES):
            if code is not None or not _is_definition_uid(keyword, element.value):
                return self._remap_uids(element)  # U, X/Z/U*, and D: a keyed UID is the dummy
            return None
        if vr == "SQ":
            if code is None or code == "X/Z/U*":
                for index, item in enumerate(element.value):
                    self.walk(item, f"{where}[{index}].")
                return None
            if code in _EMPTY_CODES:
                element.value = Sequence()
                return DeidentificationAction.EMPTIED
            del dataset[tag]  # X, and the D family (see the module docstring)
            return DeidentificationAction.REMOVED
        if code is None:
            return _apply(dataset, element, "Z") if vr == "PN" else None  # a name is never kept
        return _apply(dataset, element, "Z" if code == "X/Z/U*" else code)

    def _pseudonym_in(self, dataset: Dataset) -> str:
        """The instance's pseudonym; a sequence item with its own PatientID names another patient."""
        if str(dataset.get("PatientID", "") or "").strip():
            return self.policy.pseudonym(_patient_key(dataset))
        return self.pseudonym

    def _remap_uids(self, element: DataElement) -> DeidentificationAction | None:
        if element.VM == 0:
            return None
        if isinstance(element.value, MultiValue):
            element.value = [self.policy.uid(str(uid)) for uid in element.value]
        else:
            element.value = self.policy.uid(str(element.value))
        return DeidentificationAction.UID_REMAPPED

    def _shift(self, element: DataElement) -> DeidentificationAction | None:
        if element.VM == 0:
            return None
        values = element.value if isinstance(element.value, MultiValue) else [element.value]
        shifted = [_shift_date(str(value), self.offset, element.VR) for value in values]
        if any(value is None for value in shifted):
            element.value = ""  # not a date we can move: no date at all
            return DeidentificationAction.EMPTIED
        element.value = shifted if len(shifted) > 1 else shifted[0]
        return DeidentificationAction.SHIFTED

    def _clean(self, element: DataElement) -> DeidentificationAction | None:
        if element.VM == 0:
            return None
        values = element.value if isinstance(element.value, MultiValue) else [element.value]
        cleaned = [_scrub(str(value), self.identifiers) for value in values]
        element.value = cleaned if len(cleaned) > 1 else cleaned[0]
        return DeidentificationAction.CLEANED


def _apply(dataset: Dataset, element: DataElement, code: str) -> DeidentificationAction | None:
    """A basic-profile action on a non-sequence element, resolved as ``dicom-anonymizer`` resolves it."""
    if code in _EMPTY_CODES:
        if element.VM == 0:
            return None
        if element.VR in ("DA", "DT", "TM"):
            element.value = ""  # the library writes 00010101; an empty date says less
        else:
            _library_operator(dataset, element, empty_element)
        return DeidentificationAction.EMPTIED
    if code in _DUMMY_CODES and _library_operator(dataset, element, replace_element):
        return DeidentificationAction.REPLACED
    if element.tag in dataset:
        del dataset[element.tag]  # X, and a dummy the library has no value for
    return DeidentificationAction.REMOVED


def _library_operator(dataset: Dataset, element: DataElement, operator: Callable[[DataElement], None]) -> bool:
    try:
        operator(element)
    except NotImplementedError:  # a VR the library has no value for (AT, OW, OF, SV, ...): drop it
        del dataset[element.tag]
        return False
    return True


def _mark(dataset: Dataset, policy: DeidentificationPolicy) -> None:
    cid = {code.value: code for code in (getattr(codes.cid7050, name) for name in codes.cid7050.dir())}
    dataset.PatientIdentityRemoved = "YES"
    dataset.DeidentificationMethod = deidentification_method()
    items = []
    for value in policy.method_codes():
        item = Dataset()
        item.CodeValue = value
        item.CodingSchemeDesignator = cid[value].scheme_designator
        item.CodeMeaning = cid[value].meaning
        items.append(item)
    dataset.DeidentificationMethodCodeSequence = Sequence(items)
    dataset.LongitudinalTemporalInformationModified = "MODIFIED" if policy.retain_longitudinal_dates else "REMOVED"


def _patient_key(dataset: Dataset) -> str:
    patient_id = str(dataset.get("PatientID", "") or "").strip()
    if patient_id:
        return f"patient\x00{str(dataset.get('IssuerOfPatientID', '') or '').strip()}\x00{patient_id}"
    study = str(dataset.get("StudyInstanceUID", "") or "").strip()
    if study:
        return f"study\x00{study}"
    raise InvalidArgument(
        "the instance has neither PatientID nor StudyInstanceUID: it cannot get a consistent pseudonym",
        reason="NO_PATIENT_IDENTITY",
    )


def _is_definition_uid(keyword: str, value: object) -> bool:
    if keyword.endswith("ClassUID") or keyword in _DEFINITION_UIDS:
        return True
    values = value if isinstance(value, MultiValue) else [value]
    return all(str(uid).startswith("1.2.840.10008.") for uid in values if uid)


def _shift_date(value: str, offset: timedelta, vr: str) -> str | None:
    """``value`` moved by ``offset`` whole days; None when it is not a full date."""
    text = value.strip()
    if vr == "DA":
        text = text.replace(".", "")  # ACR-NEMA YYYY.MM.DD
    match = re.fullmatch(r"(\d{4})(\d{2})(\d{2})(.*)", text)
    if match is None or (vr == "DA" and match.group(4)):
        return None
    try:
        moved = date(int(match.group(1)), int(match.group(2)), int(match.group(3))) + offset
    except (ValueError, OverflowError):
        return None
    return f"{moved.year:04d}{moved.month:02d}{moved.day:02d}{match.group(4)}"


def _identifiers(dataset: Dataset) -> list[str]:
    """Words a descriptor must not contain: every person name and identifying value in the instance."""
    words: set[str] = set()
    for element in _elements(dataset):
        if element.VR == "PN" or element.keyword in _IDENTIFYING_TEXT:
            values = element.value if isinstance(element.value, MultiValue) else [element.value]
            for value in values:
                text = str(value or "").strip()
                if len(text) >= 3:
                    words.add(text)
                words.update(word for word in _NAME_SPLIT.split(text) if len(word) >= 3)
    return sorted(words, key=len, reverse=True)  # longest first, so a full value goes before its words


def _elements(dataset: Dataset) -> Iterator[DataElement]:
    for tag in sorted(dataset.keys()):
        element = dataset[tag]
        yield element
        if element.VR == "SQ":
            for item in element.value:
                yield from _elements(item)


def _scrub(text: str, identifiers: Iterable[str]) -> str:
    text = _TITLED_NAME.sub(" ", text)
    for word in identifiers:
        text = re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", " ", text, flags=re.IGNORECASE)
    for pattern in (_DATE_LIKE, _LONG_NUMBER):
        text = pattern.sub(" ", text)
    return " ".join(text.split())


def _tag_text(tag: BaseTag) -> str:
    return f"({tag.group:04X},{tag.element:04X})"


@dataclass(frozen=True)
class IngestProfile:
    """What a project asks of files uploaded into it: de-identified before they are stored, with these options."""

    deidentify: bool = False
    retain_longitudinal_dates: bool = False
    retain_patient_characteristics: bool = False
    clean_descriptors: bool = False

    def policy(self, secret: bytes) -> DeidentificationPolicy | None:
        """The policy to apply with the project's key, or None when the project keeps files as sent."""
        if not self.deidentify:
            return None
        return DeidentificationPolicy(
            secret=secret,
            retain_longitudinal_dates=self.retain_longitudinal_dates,
            retain_patient_characteristics=self.retain_patient_characteristics,
            clean_descriptors=self.clean_descriptors,
        )
