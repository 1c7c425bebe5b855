"""De-identification on PHI-laden phantoms and pydicom's bundled files: no identifier survives
(every element, sequences included), references still resolve, pixels and geometry are unchanged."""

from __future__ import annotations

import copy
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

import highdicom as hd
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from dicomanonymizer.dicomfields_selector import dicom_anonymization_database_selector
from pydicom import config
from pydicom.data import get_testdata_file
from pydicom.datadict import keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sr.codedict import codes
from pydicom.uid import UID

from radscholar_core.errors import InvalidArgument
from radscholar_dicomstore.domain.deidentify import (
    ANNEX_E_TABLE,
    CLEANED_DESCRIPTORS,
    PATIENT_CHARACTERISTICS,
    DeidentificationAction,
    DeidentificationPolicy,
    DeidentificationReport,
    deidentified_copy,
    deidentify,
)
from radscholar_phantoms import generate

Kind = Literal["ct", "dx", "mg", "mr"]

# rtdose.dcm carries an invalid UID; reading it warns, and it is still de-identified.
pytestmark = pytest.mark.filterwarnings("ignore:Invalid value for VR UI:UserWarning")

SECRET = b"project-7f3a-secret-for-tests-000"
OTHER_SECRET = b"another-project-secret-for-tests"
BASIC = DeidentificationPolicy(secret=SECRET)
ALL_OPTIONS = DeidentificationPolicy(
    secret=SECRET, retain_longitudinal_dates=True, retain_patient_characteristics=True, clean_descriptors=True
)
POLICIES = {"basic": BASIC, "all-options": ALL_OPTIONS}

# Elements whose original values identify someone, and must not be found anywhere after the run.
PHI_KEYWORDS = frozenset(
    {
        "AccessionNumber",
        "AdditionalPatientHistory",
        "DeviceSerialNumber",
        "ImageComments",
        "InstitutionAddress",
        "InstitutionName",
        "InstitutionalDepartmentName",
        "IssuerOfPatientID",
        "OtherPatientIDs",
        "PatientAddress",
        "PatientBirthDate",
        "PatientComments",
        "PatientID",
        "PatientTelephoneNumbers",
        "StationName",
        "StudyComments",
        "StudyID",
    }
)
# Of those, the ones that identify by themselves, looked for inside every text.
IDENTIFIERS = frozenset(
    {
        "AccessionNumber",
        "InstitutionAddress",
        "InstitutionName",
        "IssuerOfPatientID",
        "OtherPatientIDs",
        "PatientAddress",
        "PatientID",
        "PatientTelephoneNumbers",
        "StationName",
    }
)
# The vendor is kept by the profile; in MR_small.dcm the institution is the vendor's name.
KEPT_EQUIPMENT = frozenset({"Manufacturer", "ManufacturerModelName"})
DEFINITION_UIDS = frozenset({"CodingSchemeUID", "ContextUID", "MappingResourceUID", "ContextGroupExtensionCreatorUID"})
# Attributes Table E.1-1 removes (X), checked by name, independently of the library's table.
ALWAYS_REMOVED = (
    "AdditionalPatientHistory",
    "ImageComments",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "IssuerOfPatientID",
    "OtherPatientIDs",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "PerformingPhysicianName",
)
BUNDLED = (
    "CT_small.dcm",
    "MR_small.dcm",
    "MR_small_implicit.dcm",
    "JPEG2000.dcm",
    "693_J2KI.dcm",
    "liver_1frame.dcm",
    "examples_overlay.dcm",
    "examples_palette.dcm",
    "SC_rgb_small_odd.dcm",
    "image_dfl.dcm",
    "rtstruct.dcm",
    "rtplan.dcm",
    "rtdose.dcm",
    "waveform_ecg.dcm",
    "test-SR.dcm",
    "reportsi.dcm",
)
SHAPES: dict[Kind, tuple[int, ...]] = {"ct": (8, 32, 32), "dx": (64, 64), "mg": (64, 48), "mr": (8, 32, 32)}


@pytest.fixture(autouse=True)
def strict_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every value the run writes must be valid for its VR."""
    monkeypatch.setattr(config.settings, "writing_validation_mode", config.RAISE)


@pytest.fixture(scope="module")
def cohorts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    """PHI-laden phantoms: two patients of two sites per kind."""
    root = tmp_path_factory.mktemp("phantoms")
    found: dict[str, list[Path]] = {}
    for kind, shape in SHAPES.items():
        generate(kind, 2, 2, 5, root / kind, shape=shape)
        found[kind] = sorted((root / kind).rglob("*.dcm"))
    return found


def read(path: Path | str) -> Dataset:
    return pydicom.dcmread(path, force=True)


def bundled(name: str) -> Dataset:
    path = get_testdata_file(name)
    assert isinstance(path, str), name
    return read(path)


def elements(dataset: Dataset) -> Iterator[DataElement]:
    """Every data element, sequence items and file meta included."""
    meta = getattr(dataset, "file_meta", None)
    if meta is not None:
        yield from meta
    yield from _nested(dataset)


def _nested(dataset: Dataset) -> Iterator[DataElement]:
    for element in dataset:
        yield element
        if element.VR == "SQ":
            for item in element.value:
                yield from _nested(item)


def values(element: DataElement) -> list[str]:
    if element.VR == "SQ" or element.value is None:
        return []
    if isinstance(element.value, bytes):
        return [] if element.tag in (0x7FE00010, 0x54001010) else [element.value.decode("latin-1")]
    items = element.value if isinstance(element.value, MultiValue | list) else [element.value]
    return [str(item) for item in items if str(item) != ""]


def is_instance_uid(element: DataElement, value: str) -> bool:
    """A UID that names something of this patient (not a SOP class, syntax, implementation or coding scheme)."""
    keyword = element.keyword or ""
    definition = keyword.endswith(("ClassUID", "TransferSyntaxUID")) or keyword in DEFINITION_UIDS
    return not definition and not value.startswith("1.2.840.10008.")


def phi_of(dataset: Dataset) -> tuple[set[str], set[str], set[str]]:
    """Original values that must not survive whole, identifiers that must not appear inside any text,
    and the words of person names, which must not appear as words in any text."""
    whole: set[str] = set()
    inside: set[str] = set()
    words: set[str] = set()
    for element in elements(dataset):
        keyword = element.keyword or ""
        for value in values(element):
            text = value.strip()
            if element.VR == "PN" or keyword in PHI_KEYWORDS or element.VR in ("DA", "DT"):
                if len(text) >= 4 and text.upper() not in ("ANONYMOUS", "ANONYMIZED"):
                    whole.add(text)
                if len(text) >= 6 and (element.VR == "PN" or keyword in IDENTIFIERS):
                    inside.add(text.lower())
            if element.VR == "PN":
                words.update(w for w in re.split(r"[\^=\s,]+", text) if len(w) >= 3 and w.isalpha())
            if element.VR == "UI" and is_instance_uid(element, text):
                whole.add(text)
    return whole, inside, words


def leaks(result: Dataset, original: Dataset) -> list[str]:
    """Where an original identifying value is still found in ``result``."""
    whole, inside, words = phi_of(original)
    found = []
    for element in elements(result):
        name = element.keyword or str(element.tag)
        text_vr = element.VR not in ("UI", "DA", "DT", "TM") and name not in KEPT_EQUIPMENT
        for value in values(element):
            text = value.strip()
            if text in whole and not (element.VR == "UI" and not is_instance_uid(element, text)):
                found.append(f"{name}: an original value")
            if text_vr and any(phi in text.lower() for phi in inside):
                found.append(f"{name}: contains an identifier")
            if text_vr and any(re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text) for word in words):
                found.append(f"{name}: contains a name")
    return found


def annex_e_removed(policy: DeidentificationPolicy) -> set[int]:
    table = dicom_anonymization_database_selector(ANNEX_E_TABLE)
    removed = {int(pydicom.tag.Tag(*entry)) for entry in table["X_TAGS"] if len(entry) == 2}
    if policy.retain_patient_characteristics:
        removed -= {tag_for_keyword(keyword) for keyword in PATIENT_CHARACTERISTICS}
    if policy.clean_descriptors:
        removed -= {tag_for_keyword(keyword) for keyword in CLEANED_DESCRIPTORS}
    return removed


def assert_deidentified(result: Dataset, original: Dataset, policy: DeidentificationPolicy) -> None:
    assert leaks(result, original) == []
    removed = annex_e_removed(policy)
    for element in elements(result):
        assert not element.tag.is_private, element.tag
        shifted = policy.retain_longitudinal_dates and element.VR in ("DA", "DT", "TM")  # C in that option
        assert shifted or int(element.tag) not in removed, element.keyword
        assert not (element.tag.group & 0xFF00 == 0x6000 and element.tag.element == 0x3000), "overlay data"
    for keyword in ALWAYS_REMOVED:
        assert keyword not in result
    assert result.PatientIdentityRemoved == "YES"
    assert str(result.PatientName) == result.PatientID
    assert [item.CodeValue for item in result.DeidentificationMethodCodeSequence] == list(policy.method_codes())


def write_and_read(dataset: Dataset, path: Path) -> Dataset:
    path.parent.mkdir(parents=True, exist_ok=True)
    dataset.save_as(path, enforce_file_format=True)
    return read(path)


# (1) no identifying value and no Annex E "remove" element survives


@pytest.mark.parametrize("kind", list(SHAPES))
@pytest.mark.parametrize("policy_name", list(POLICIES))
def test_no_phi_survives_in_phantoms(
    kind: str, policy_name: str, cohorts: dict[str, list[Path]], tmp_path: Path
) -> None:
    policy = POLICIES[policy_name]
    for path in cohorts[kind]:
        original = read(path)
        assert original.ImageComments and original.AdditionalPatientHistory  # the phantoms do carry PHI
        result, _ = deidentified_copy(original, policy)
        assert_deidentified(result, original, policy)
        assert_deidentified(write_and_read(result, tmp_path / path.name), original, policy)


@pytest.mark.parametrize("name", BUNDLED)
@pytest.mark.parametrize("policy_name", list(POLICIES))
def test_no_phi_survives_in_bundled_files(name: str, policy_name: str, tmp_path: Path) -> None:
    policy = POLICIES[policy_name]
    original = bundled(name)
    result, report = deidentified_copy(original, policy)
    assert_deidentified(result, original, policy)
    assert report.changes
    again = write_and_read(result, tmp_path / name)
    assert_deidentified(again, original, policy)


def test_private_elements_are_removed_everywhere() -> None:
    original = bundled("CT_small.dcm")
    assert any(element.tag.is_private for element in elements(original))
    item = Dataset()
    item.ReferencedSOPInstanceUID = original.SOPInstanceUID
    item.ReferencedSOPClassUID = original.SOPClassUID
    item.add_new(0x00091010, "LO", "Jones^Private")
    original.SourceImageSequence = [item]
    result, report = deidentified_copy(original, BASIC)
    assert not any(element.tag.is_private for element in elements(result))
    assert "SourceImageSequence[0].(0009,1010)" in {change.path for change in report.changes}


# (2) hierarchy and references survive, pseudonyms and UIDs are consistent per project


def segmentation_of(slices: list[Dataset]) -> Dataset:
    """A highdicom SEG over a CT series: it references every slice, the series, study and frame of reference."""
    mask = np.zeros((len(slices), int(slices[0].Rows), int(slices[0].Columns)), dtype=bool)
    mask[2:6, 8:20, 8:20] = True
    segment = hd.seg.SegmentDescription(
        segment_number=1,
        segment_label="nodule",
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Nodule,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
    )
    return hd.seg.Segmentation(
        source_images=slices,
        pixel_array=mask,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[segment],
        series_instance_uid=hd.UID(),
        series_number=90,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="RadScholar",
        manufacturer_model_name="tests",
        software_versions="1",
        device_serial_number="SN-4711-XYZ",
        omit_empty_frames=False,
    )


def ct_series(paths: list[Path]) -> dict[str, list[Dataset]]:
    by_series: dict[str, list[Dataset]] = defaultdict(list)
    for path in paths:
        dataset = read(path)
        by_series[dataset.SeriesInstanceUID].append(dataset)
    for slices in by_series.values():
        slices.sort(key=lambda s: int(s.InstanceNumber))
    return by_series


def test_hierarchy_and_references_survive(cohorts: dict[str, list[Path]]) -> None:
    series = ct_series(cohorts["ct"])
    assert len(series) == 2
    originals = {uid: [copy.deepcopy(s) for s in slices] for uid, slices in series.items()}
    # highdicom shares element objects with its sources: the SEG gets its own copies, as if read from a file
    segmentations = {uid: segmentation_of(copy.deepcopy(slices)) for uid, slices in series.items()}
    pseudonyms = set()
    for uid, slices in series.items():
        reports = [deidentify(s, BASIC) for s in slices]
        seg = segmentations[uid]
        seg_before = copy.deepcopy(seg)
        seg_report = deidentify(seg, BASIC)
        assert leaks(seg, seg_before) == []  # e.g. InstitutionName inside ContributingEquipmentSequence
        new_series = {s.SeriesInstanceUID for s in slices}
        new_studies = {s.StudyInstanceUID for s in slices}
        new_frames = {s.FrameOfReferenceUID for s in slices}
        new_instances = {s.SOPInstanceUID for s in slices}
        assert len(new_series) == len(new_studies) == len(new_frames) == 1
        assert new_series != {uid} and new_studies != {originals[uid][0].StudyInstanceUID}
        assert len(new_instances) == len(slices)
        assert not new_instances & {s.SOPInstanceUID for s in originals[uid]}
        for s in [*slices, seg]:
            assert s.file_meta.MediaStorageSOPInstanceUID == s.SOPInstanceUID
            for element in elements(s):
                if element.VR == "UI":
                    for value in values(element):
                        assert UID(value).is_valid and len(value) <= 64, element.keyword
        # one patient, one pseudonym, in the images and the segmentation
        assert {r.pseudonym for r in [*reports, seg_report]} == {slices[0].PatientID} == {seg.PatientID}
        pseudonyms.add(slices[0].PatientID)
        # the segmentation still points at the (new) series, study, frame of reference and slices
        assert {seg.StudyInstanceUID} == new_studies and {seg.FrameOfReferenceUID} == new_frames
        referenced = seg.ReferencedSeriesSequence[0]
        assert {referenced.SeriesInstanceUID} == new_series
        assert {item.ReferencedSOPInstanceUID for item in referenced.ReferencedInstanceSequence} == new_instances
        sources = {
            frame.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
            for frame in seg.PerFrameFunctionalGroupsSequence
        }
        assert sources == new_instances
        dimension = seg.DimensionOrganizationSequence[0].DimensionOrganizationUID
        assert {item.DimensionOrganizationUID for item in seg.DimensionIndexSequence} == {dimension}
        assert hd.seg.Segmentation.from_dataset(seg).get_source_image_uids()
    assert len(pseudonyms) == 2 and all(re.fullmatch(r"RS-[0-9a-f]{10}", p) for p in pseudonyms)


def test_an_element_held_in_two_places_is_remapped_once() -> None:
    dataset = bundled("CT_small.dcm")
    reference = Dataset()
    reference.ReferencedSOPClassUID = dataset.SOPClassUID
    reference.ReferencedSOPInstanceUID = dataset.SOPInstanceUID
    dataset.SourceImageSequence = [reference]
    dataset.ReferencedImageSequence = [reference]  # the same item object, as highdicom builds them
    deidentify(dataset, BASIC)
    assert reference.ReferencedSOPInstanceUID == dataset.SOPInstanceUID


def test_the_preamble_is_zeroed(tmp_path: Path) -> None:
    dataset = bundled("CT_small.dcm")
    dataset.preamble = b"Doe^Jane MRN 4711".ljust(128, b" ")
    result, _ = deidentified_copy(dataset, BASIC)
    assert write_and_read(result, tmp_path / "out.dcm").preamble == b"\x00" * 128


def test_pseudonym_does_not_depend_on_element_order() -> None:
    dataset = Dataset()
    dataset.PatientID = "MRN-0042"  # inserted before PatientName: insertion order is not tag order
    dataset.IssuerOfPatientID = "SITE-A"
    dataset.PatientName = "Doe^Jane"
    dataset.StudyInstanceUID = "1.2.3.4"
    report = deidentify(dataset, BASIC)
    assert str(dataset.PatientName) == dataset.PatientID == report.pseudonym


def test_references_inside_an_rt_structure_set_still_match() -> None:
    result, _ = deidentified_copy(bundled("rtstruct.dcm"), BASIC)
    frames = {item.FrameOfReferenceUID for item in result.ReferencedFrameOfReferenceSequence}
    assert {roi.ReferencedFrameOfReferenceUID for roi in result.StructureSetROISequence} <= frames
    roi_numbers = {roi.ROINumber for roi in result.StructureSetROISequence}
    assert {contour.ReferencedROINumber for contour in result.ROIContourSequence} <= roi_numbers


def test_same_patient_same_pseudonym_and_uids_per_project(cohorts: dict[str, list[Path]]) -> None:
    path = cohorts["ct"][0]
    first, first_report = deidentified_copy(read(path), BASIC)
    second, second_report = deidentified_copy(read(path), DeidentificationPolicy(secret=SECRET))
    other, other_report = deidentified_copy(read(path), DeidentificationPolicy(secret=OTHER_SECRET))
    uids = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID")
    assert first_report.pseudonym == second_report.pseudonym == first.PatientID == first.PatientName
    assert [first[k].value for k in uids] == [second[k].value for k in uids]
    assert other_report.pseudonym != first_report.pseudonym
    assert all(first[k].value != other[k].value for k in uids)
    # every slice of that patient gets the same pseudonym
    patient = read(path).PatientID
    same_patient = [p for p in cohorts["ct"] if read(p).PatientID == patient]
    assert len(same_patient) > 1
    assert {deidentified_copy(read(p), BASIC)[1].pseudonym for p in same_patient} == {first_report.pseudonym}


def test_prefix_is_used() -> None:
    policy = DeidentificationPolicy(secret=SECRET, pseudonym_prefix="TRIAL7-")
    result, report = deidentified_copy(bundled("CT_small.dcm"), policy)
    assert re.fullmatch(r"TRIAL7-[0-9a-f]{10}", report.pseudonym)
    assert result.PatientID == report.pseudonym


# (3) pixels are untouched


@pytest.mark.parametrize("kind", list(SHAPES))
def test_pixel_data_is_identical_in_phantoms(kind: str, cohorts: dict[str, list[Path]], tmp_path: Path) -> None:
    for path in cohorts[kind]:
        original = read(path)
        result, _ = deidentified_copy(original, ALL_OPTIONS)
        assert write_and_read(result, tmp_path / path.name).PixelData == original.PixelData


@pytest.mark.parametrize("name", [n for n in BUNDLED if "PixelData" in bundled(n)])
def test_pixel_data_is_identical_in_bundled_files(name: str, tmp_path: Path) -> None:
    original = bundled(name)
    result, _ = deidentified_copy(original, BASIC)
    assert write_and_read(result, tmp_path / name).PixelData == original.PixelData


def test_segmentation_pixels_are_identical(cohorts: dict[str, list[Path]]) -> None:
    slices = next(iter(ct_series(cohorts["ct"]).values()))
    seg = segmentation_of(slices)
    result, _ = deidentified_copy(seg, BASIC)
    assert result.PixelData == seg.PixelData


# (4) longitudinal dates


def follow_up(dataset: Dataset, days: int) -> Dataset:
    """The same patient's next study, ``days`` later."""
    later = copy.deepcopy(dataset)
    later.StudyInstanceUID = pydicom.uid.generate_uid()
    later.SeriesInstanceUID = pydicom.uid.generate_uid()
    later.SOPInstanceUID = later.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    for keyword in ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate", "InstanceCreationDate"):
        later[keyword].value = (as_date(dataset[keyword].value) + timedelta(days=days)).strftime("%Y%m%d")
    return later


def as_date(value: str) -> date:
    return date(int(value[:4]), int(value[4:6]), int(value[6:8]))


@pytest.mark.parametrize("kind", list(SHAPES))
def test_retained_dates_keep_intervals(kind: str, cohorts: dict[str, list[Path]]) -> None:
    baseline = read(cohorts[kind][0])
    later = follow_up(baseline, 97)
    policy = DeidentificationPolicy(secret=SECRET, retain_longitudinal_dates=True)
    first, first_report = deidentified_copy(baseline, policy)
    second, second_report = deidentified_copy(later, policy)
    assert first_report.pseudonym == second_report.pseudonym
    assert first.StudyInstanceUID != second.StudyInstanceUID
    interval = as_date(second.StudyDate) - as_date(first.StudyDate)
    assert interval.days == 97
    shift = (as_date(first.StudyDate) - as_date(baseline.StudyDate)).days
    assert -3650 <= shift <= -1
    for keyword in ("SeriesDate", "AcquisitionDate", "ContentDate", "InstanceCreationDate"):
        assert (as_date(first[keyword].value) - as_date(baseline[keyword].value)).days == shift
    assert first.StudyTime == baseline.StudyTime  # whole days: the time of day is kept
    assert first.PatientBirthDate == ""  # never kept; Patient's Age is the characteristic
    assert first.LongitudinalTemporalInformationModified == "MODIFIED"
    assert codes.cid7050.RetainLongitudinalTemporalInformationModifiedDatesOption.value in first_report.method_codes
    assert {c.keyword for c in first_report.with_action(DeidentificationAction.SHIFTED)} >= {"StudyDate", "SeriesDate"}
    other, _ = deidentified_copy(baseline, DeidentificationPolicy(secret=OTHER_SECRET, retain_longitudinal_dates=True))
    assert other.StudyDate != first.StudyDate or other.PatientID != first.PatientID


def test_date_shift_differs_between_patients(cohorts: dict[str, list[Path]]) -> None:
    policy = DeidentificationPolicy(secret=SECRET, retain_longitudinal_dates=True)
    shifts = set()
    for kind in SHAPES:
        for path in cohorts[kind][:: max(1, len(cohorts[kind]) // 2)]:
            original = read(path)
            result, _ = deidentified_copy(original, policy)
            shifts.add((as_date(result.StudyDate) - as_date(original.StudyDate)).days)
    assert len(shifts) > 1


@pytest.mark.parametrize("kind", list(SHAPES))
def test_without_the_option_dates_are_gone(kind: str, cohorts: dict[str, list[Path]]) -> None:
    original = read(cohorts[kind][0])
    result, _ = deidentified_copy(original, BASIC)
    dates = {v for e in elements(original) if e.VR in ("DA", "DT") for v in values(e)}
    assert dates
    for element in elements(result):
        if element.VR in ("DA", "DT"):
            assert not set(values(element)) & dates, element.keyword
            assert values(element) in ([], ["00010101"], ["00010101010101.000000+0000"]), element.keyword
    assert result.StudyDate == "" and result.PatientBirthDate == ""
    assert result.LongitudinalTemporalInformationModified == "REMOVED"


# (5) the result still writes, reads, and has the same geometry


@pytest.mark.parametrize("kind", ["ct", "mr"])
def test_simpleitk_geometry_is_unchanged(kind: str, cohorts: dict[str, list[Path]], tmp_path: Path) -> None:
    paths = cohorts[kind]
    first_series = read(paths[0]).SeriesInstanceUID
    source = [p for p in paths if read(p).SeriesInstanceUID == first_series]
    for path in source:
        result, _ = deidentified_copy(read(path), ALL_OPTIONS)
        write_and_read(result, tmp_path / "out" / path.name)
    before, after = series_image(source), series_image(sorted((tmp_path / "out").glob("*.dcm")))
    assert after.GetSize() == before.GetSize()
    assert np.allclose(after.GetOrigin(), before.GetOrigin())
    assert np.allclose(after.GetSpacing(), before.GetSpacing())
    assert np.allclose(after.GetDirection(), before.GetDirection())
    assert np.array_equal(sitk.GetArrayFromImage(after), sitk.GetArrayFromImage(before))


def series_image(paths: list[Path]) -> sitk.Image:
    folder = paths[0].parent
    reader = sitk.ImageSeriesReader()
    series = reader.GetGDCMSeriesIDs(str(folder))
    assert len(series) == 1
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder), series[0]))
    return reader.Execute()


# (6) the report names what changed and never a value


@pytest.mark.parametrize("policy_name", list(POLICIES))
def test_report_names_changes_but_no_value(policy_name: str, cohorts: dict[str, list[Path]]) -> None:
    policy = POLICIES[policy_name]
    original = read(cohorts["ct"][0])
    _, report = deidentified_copy(original, policy)
    by_keyword = {change.keyword: change.action for change in report.changes}
    assert by_keyword["AdditionalPatientHistory"] is DeidentificationAction.REMOVED
    assert by_keyword["ImageComments"] is DeidentificationAction.REMOVED
    assert by_keyword["PatientAddress"] is DeidentificationAction.REMOVED
    assert by_keyword["PatientName"] is DeidentificationAction.PSEUDONYMISED
    assert by_keyword["SOPInstanceUID"] is DeidentificationAction.UID_REMAPPED
    assert by_keyword["AccessionNumber"] is DeidentificationAction.EMPTIED
    assert by_keyword["InstitutionName"] is DeidentificationAction.REPLACED
    expected_date = (
        DeidentificationAction.SHIFTED if policy.retain_longitudinal_dates else DeidentificationAction.EMPTIED
    )
    assert by_keyword["StudyDate"] is expected_date
    assert ("PatientAge" in by_keyword) is not policy.retain_patient_characteristics
    assert by_keyword["StudyDescription"] is (
        DeidentificationAction.CLEANED if policy.clean_descriptors else DeidentificationAction.REMOVED
    )
    assert report.summary()["removed"] == len(report.with_action(DeidentificationAction.REMOVED))
    text = repr(report) + str(report.summary())
    whole, _, words = phi_of(original)
    assert [phi for phi in whole | words if len(phi) >= 5 and phi in text] == []
    assert not report.burned_in_annotation


def test_policy_repr_hides_the_secret() -> None:
    assert SECRET.decode() not in repr(ALL_OPTIONS)


# options


def test_patient_characteristics_are_kept_only_with_the_option(cohorts: dict[str, list[Path]]) -> None:
    original = read(cohorts["ct"][0])
    kept, _ = deidentified_copy(original, DeidentificationPolicy(secret=SECRET, retain_patient_characteristics=True))
    basic, _ = deidentified_copy(original, BASIC)
    for keyword in ("PatientAge", "PatientSex", "PatientWeight"):
        assert kept[keyword].value == original[keyword].value
        assert keyword not in basic or basic[keyword].value in ("", None)


def test_clean_descriptors_scrubs_identifiers(cohorts: dict[str, list[Path]]) -> None:
    original = read(cohorts["ct"][0])
    family, given = str(original.PatientName).split("^")[:2]
    original.StudyDescription = f"CT CHEST {family.upper()} {given} 2021-03-04 MRN 123456789 Dr. Hartley"
    original.SeriesDescription = f"Thorax {original.PatientID} {original.InstitutionName}"
    cleaned, report = deidentified_copy(original, DeidentificationPolicy(secret=SECRET, clean_descriptors=True))
    assert cleaned.StudyDescription == "CT CHEST MRN"
    assert cleaned.SeriesDescription == "Thorax"
    assert cleaned.ProtocolName == original.ProtocolName
    assert {c.keyword for c in report.with_action(DeidentificationAction.CLEANED)} >= {"StudyDescription"}
    basic, _ = deidentified_copy(original, BASIC)
    assert "StudyDescription" not in basic and "SeriesDescription" not in basic


def test_option_keywords_are_dicom_keywords() -> None:
    for keyword in PATIENT_CHARACTERISTICS | CLEANED_DESCRIPTORS:
        tag = tag_for_keyword(keyword)
        assert tag is not None and keyword_for_tag(tag) == keyword, keyword


def test_method_codes_follow_cid_7050() -> None:
    assert BASIC.method_codes() == ("113100",)
    assert ALL_OPTIONS.method_codes() == ("113100", "113105", "113107", "113108")
    result, _ = deidentified_copy(bundled("CT_small.dcm"), ALL_OPTIONS)
    assert [(i.CodeValue, i.CodingSchemeDesignator) for i in result.DeidentificationMethodCodeSequence] == [
        ("113100", "DCM"),
        ("113105", "DCM"),
        ("113107", "DCM"),
        ("113108", "DCM"),
    ]
    assert all(len(value) <= 64 for value in result.DeidentificationMethod)


# bad input


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        ({"secret": b"short"}, "WEAK_DEIDENTIFICATION_SECRET"),
        ({"secret": "a text secret of enough length"}, "WEAK_DEIDENTIFICATION_SECRET"),
        ({"secret": SECRET, "pseudonym_prefix": "RS^"}, "INVALID_PSEUDONYM_PREFIX"),
        ({"secret": SECRET, "pseudonym_prefix": "X" * 17}, "INVALID_PSEUDONYM_PREFIX"),
    ],
)
def test_bad_policies_are_refused(arguments: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidArgument) as error:
        DeidentificationPolicy(**arguments)  # type: ignore[arg-type]
    assert error.value.reason == reason


def test_an_instance_without_patient_or_study_is_refused() -> None:
    dataset = bundled("nested_priv_SQ.dcm")
    with pytest.raises(InvalidArgument) as error:
        deidentify(dataset, BASIC)
    assert error.value.reason == "NO_PATIENT_IDENTITY"


def test_without_patient_id_the_study_stands_in() -> None:
    dataset = bundled("image_dfl.dcm")
    assert not dataset.get("PatientID")
    first = deidentified_copy(dataset, BASIC)[1].pseudonym
    assert first == deidentified_copy(bundled("image_dfl.dcm"), BASIC)[1].pseudonym


def test_the_report_type_is_what_deidentify_returns() -> None:
    report = deidentify(bundled("MR_small.dcm"), BASIC)
    assert isinstance(report, DeidentificationReport)
