"""DICOM Part 10 files for a synthetic case (Explicit VR Little Endian, one file per instance).

CT, MR, DX ("for presentation") and MG ("for presentation") images with the patient, study, series,
equipment, frame of reference, image plane and modality modules filled in, and realistic PHI in the
usual places (names, IDs, dates, addresses, free text) for de-identification tests.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    CTImageStorage,
    DigitalMammographyXRayImageStorageForPresentation,
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    MRImageStorage,
)
from pydicom.valuerep import DSfloat

from radscholar_phantoms.cohort import SyntheticCase, SyntheticSeries

SOP_CLASSES = {
    "CT": CTImageStorage,
    "MR": MRImageStorage,
    "DX": DigitalXRayImageStorageForPresentation,
    "MG": DigitalMammographyXRayImageStorageForPresentation,
}
CT_RESCALE_INTERCEPT = -1024
_IMPLEMENTATION_VERSION = "RADSCHOLAR_PH1"


def series_directory(case: SyntheticCase, series: SyntheticSeries) -> PurePosixPath:
    """``<site>/<patient_id>/<YYYYMMDD>_<accession>/<NNN>_<modality>`` relative to the output folder."""
    visit = case.visit
    study = f"{visit.study_date:%Y%m%d}_{visit.accession_number}"
    return PurePosixPath(
        case.site.site_id,
        case.patient.patient_id,
        study,
        f"{series.series_number:03d}_{series.image.modality}",
    )


def write_series(case: SyntheticCase, series: SyntheticSeries, directory: Path) -> list[Path]:
    """Write every instance of ``series`` as ``NNNN.dcm`` (InstanceNumber) under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for ds in series_datasets(case, series):
        path = directory / f"{int(ds.InstanceNumber):04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def series_datasets(case: SyntheticCase, series: SyntheticSeries) -> Iterator[Dataset]:
    """The datasets of one series, in InstanceNumber order."""
    image = series.image
    window = _window(image.pixels)  # one display window for the whole series
    for k in range(image.geometry.size[2] if image.geometry.ndim == 3 else 1):
        yield _dataset(case, series, k, window)


def _ds(value: float) -> DSfloat:
    return DSfloat(float(value), auto_format=True)


def _da(date: dt.date) -> str:
    return f"{date:%Y%m%d}"


def _tm(time: dt.time) -> str:
    return f"{time:%H%M%S}"


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def _window(pixels: np.ndarray[Any, Any]) -> tuple[float, float]:
    low, high = np.percentile(pixels, [1.0, 99.5])
    return round(float(low + high) / 2.0, 1), round(max(float(high - low), 1.0), 1)


def _dataset(case: SyntheticCase, series: SyntheticSeries, k: int, window: tuple[float, float]) -> Dataset:
    image = series.image
    modality = image.modality
    site, patient, visit = case.site, case.patient, case.visit
    scanner = site.scanner(modality)
    sop_instance_uid = UID(series.instance_uids[k])
    instance_time = (dt.datetime.combine(visit.study_date, series.series_time) + dt.timedelta(seconds=k)).time()

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SOP_CLASSES[modality]
    meta.MediaStorageSOPInstanceUID = sop_instance_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = _IMPLEMENTATION_VERSION

    ds = Dataset()
    ds.file_meta = meta
    # SOP common
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = SOP_CLASSES[modality]
    ds.SOPInstanceUID = sop_instance_uid
    ds.InstanceCreationDate = _da(visit.study_date)
    ds.InstanceCreationTime = _tm(instance_time)
    # Patient
    ds.PatientName = patient.dicom_name
    ds.PatientID = patient.patient_id
    ds.IssuerOfPatientID = site.station_name
    ds.PatientBirthDate = _da(patient.birth_date)
    ds.PatientSex = patient.sex
    ds.PatientAge = f"{visit.age_at(patient.birth_date):03d}Y"
    ds.PatientAddress = patient.address
    ds.PatientTelephoneNumbers = patient.telephone
    ds.PatientWeight = _ds(patient.weight_kg)
    ds.AdditionalPatientHistory = (
        f"{patient.given_name} {patient.family_name}, seen {visit.prior_study_date:%d/%m/%Y} "
        f"at {site.institution_name}. Referred by Dr. {visit.referring_physician.split('^')[0]}."
    )
    # Study
    ds.StudyInstanceUID = case.study_instance_uid
    ds.StudyDate = _da(visit.study_date)
    ds.StudyTime = _tm(visit.study_time)
    ds.AccessionNumber = visit.accession_number
    ds.StudyID = visit.study_id
    ds.ReferringPhysicianName = visit.referring_physician
    ds.StudyDescription = case.study_description
    # Series
    ds.Modality = modality
    ds.SeriesInstanceUID = series.series_instance_uid
    ds.SeriesNumber = series.series_number
    ds.SeriesDescription = series.series_description
    ds.SeriesDate = _da(visit.study_date)
    ds.SeriesTime = _tm(series.series_time)
    ds.ProtocolName = series.protocol_name
    ds.BodyPartExamined = series.body_part
    ds.OperatorsName = visit.operator
    ds.PerformingPhysicianName = visit.performing_physician
    # Equipment
    ds.Manufacturer = scanner.manufacturer
    ds.ManufacturerModelName = scanner.model
    ds.SoftwareVersions = scanner.software_version
    ds.DeviceSerialNumber = f"{site.station_name}{modality}{zlib.crc32(scanner.model.encode()) % 100000:05d}"
    ds.InstitutionName = site.institution_name
    ds.InstitutionAddress = site.institution_address
    ds.InstitutionalDepartmentName = site.department
    ds.StationName = f"{site.station_name}-{modality}01"
    # General image
    ds.InstanceNumber = k + 1
    ds.ContentDate = _da(visit.study_date)
    ds.ContentTime = _tm(instance_time)
    ds.AcquisitionDate = _da(visit.study_date)
    ds.AcquisitionTime = _tm(series.series_time)
    ds.AcquisitionNumber = 1
    referrer = visit.referring_physician.split("^")[0]
    ds.ImageComments = (
        f"Compared with prior exam of {patient.family_name.upper()}, {patient.given_name} "
        f"({visit.prior_study_date:%Y-%m-%d}); results discussed with Dr. {referrer}."
    )
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    # Image pixel
    pixels = image.pixels[k] if image.geometry.ndim == 3 else image.pixels
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = int(pixels.shape[0]), int(pixels.shape[1])
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    {"CT": _ct, "MR": _mr, "DX": _dx, "MG": _mg}[modality](ds, case, series, k, window)
    stored = (pixels.astype(np.int32) - CT_RESCALE_INTERCEPT) if modality == "CT" else pixels
    ds.PixelData = np.ascontiguousarray(stored, dtype="<u2").tobytes()
    ds["PixelData"].VR = "OW"
    return ds


def _plane(ds: Dataset, series: SyntheticSeries, k: int) -> None:
    """Frame of reference and image plane modules of a 3D series."""
    geometry = series.image.geometry
    direction = geometry.direction_matrix
    position = geometry.index_to_physical((0, 0, k))
    normal = direction[:, 2]
    ds.FrameOfReferenceUID = series.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.PatientPosition = "HFS"
    ds.ImagePositionPatient = [_ds(round(float(v), 4)) for v in position]
    ds.ImageOrientationPatient = [_ds(float(v)) for v in (*direction[:, 0], *direction[:, 1])]
    ds.PixelSpacing = [_ds(geometry.spacing[1]), _ds(geometry.spacing[0])]  # row spacing, column spacing
    ds.SliceThickness = _ds(geometry.spacing[2])
    ds.SpacingBetweenSlices = _ds(geometry.spacing[2])
    ds.SliceLocation = _ds(round(float(position @ normal), 4))


def _ct(ds: Dataset, case: SyntheticCase, series: SyntheticSeries, k: int, window: tuple[float, float]) -> None:
    image = series.image
    acquisition = image.acquisition
    _plane(ds, series, k)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.ScanOptions = "HELICAL MODE"
    ds.KVP = _ds(acquisition["kvp"])
    ds.XRayTubeCurrent = int(acquisition["tube_current_ma"])
    ds.ExposureTime = 500
    ds.Exposure = int(acquisition["tube_current_ma"] // 2)
    ds.ConvolutionKernel = acquisition["kernel"]
    fov = image.geometry.size[0] * image.geometry.spacing[0]
    ds.DataCollectionDiameter = _ds(round(fov, 2))
    ds.ReconstructionDiameter = _ds(round(fov, 2))
    ds.GantryDetectorTilt = _ds(0.0)
    ds.TableHeight = _ds(acquisition["table_height_mm"])
    ds.RotationDirection = "CW"
    ds.RescaleIntercept = _ds(CT_RESCALE_INTERCEPT)
    ds.RescaleSlope = _ds(1.0)
    ds.RescaleType = "HU"
    ds.WindowCenter = [_ds(40.0), _ds(-600.0)]
    ds.WindowWidth = [_ds(400.0), _ds(1500.0)]
    ds.WindowCenterWidthExplanation = ["MEDIASTINUM", "LUNG"]


def _mr(ds: Dataset, case: SyntheticCase, series: SyntheticSeries, k: int, window: tuple[float, float]) -> None:
    image = series.image
    acquisition = image.acquisition
    _plane(ds, series, k)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
    ds.ScanningSequence = ["GR", "IR"]
    ds.SequenceVariant = ["SK", "SP", "MP"]
    ds.ScanOptions = "IR"
    ds.MRAcquisitionType = "3D"
    ds.SequenceName = acquisition["sequence_name"]
    ds.RepetitionTime = _ds(acquisition["repetition_time_ms"])
    ds.EchoTime = _ds(acquisition["echo_time_ms"])
    ds.InversionTime = _ds(acquisition["inversion_time_ms"])
    ds.FlipAngle = _ds(acquisition["flip_angle_deg"])
    ds.EchoTrainLength = 1
    ds.EchoNumbers = 1
    ds.NumberOfAverages = _ds(1.0)
    ds.ImagingFrequency = _ds(acquisition["imaging_frequency_mhz"])
    ds.ImagedNucleus = "1H"
    ds.MagneticFieldStrength = _ds(acquisition["magnetic_field_strength_t"])
    ds.PixelBandwidth = _ds(acquisition["pixel_bandwidth_hz"])
    ds.ReceiveCoilName = "Head_32"
    ds.TransmitCoilName = "Body"
    rows, columns = image.geometry.size[1], image.geometry.size[0]
    ds.AcquisitionMatrix = [0, columns, rows, 0]
    ds.InPlanePhaseEncodingDirection = "ROW"
    ds.PercentSampling = _ds(100.0)
    ds.PercentPhaseFieldOfView = _ds(100.0)
    ds.WindowCenter = _ds(window[0])
    ds.WindowWidth = _ds(window[1])


def _projection(ds: Dataset, series: SyntheticSeries, window: tuple[float, float]) -> None:
    """Attributes shared by DX and MG "for presentation" images."""
    image = series.image
    acquisition = image.acquisition
    spacing = [_ds(image.geometry.spacing[1]), _ds(image.geometry.spacing[0])]
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.ImagerPixelSpacing = spacing
    ds.PixelSpacing = spacing
    ds.PixelSpacingCalibrationType = "GEOMETRY"
    ds.PixelSpacingCalibrationDescription = "Magnification corrected to the detector plane"
    ds.EstimatedRadiographicMagnificationFactor = _ds(1.0)
    ds.KVP = _ds(acquisition["kvp"])
    ds.Exposure = round(float(acquisition["exposure_mas"]))
    ds.ExposureInuAs = round(float(acquisition["exposure_mas"]) * 1000)
    ds.RescaleIntercept = _ds(0.0)
    ds.RescaleSlope = _ds(1.0)
    ds.RescaleType = "US"
    ds.PresentationLUTShape = "IDENTITY"
    ds.PixelIntensityRelationship = "LOG"
    ds.PixelIntensityRelationshipSign = 1
    ds.WindowCenter = _ds(window[0])
    ds.WindowWidth = _ds(window[1])
    ds.ImageType = ["ORIGINAL", "PRIMARY", ""]


def _dx(ds: Dataset, case: SyntheticCase, series: SyntheticSeries, k: int, window: tuple[float, float]) -> None:
    acquisition = series.image.acquisition
    _projection(ds, series, window)
    ds.ViewPosition = acquisition["view_position"]
    ds.PatientOrientation = ["L", "F"]
    ds.ImageLaterality = "U"
    ds.AnatomicRegionSequence = Sequence([_code("43799004", "SCT", "Chest")])
    ds.DetectorType = "SCINTILLATOR"
    ds.DistanceSourceToDetector = _ds(acquisition["distance_source_to_detector_mm"])
    ds.DistanceSourceToPatient = _ds(acquisition["distance_source_to_detector_mm"] - 150.0)
    ds.Grid = "IN"


def _mg(ds: Dataset, case: SyntheticCase, series: SyntheticSeries, k: int, window: tuple[float, float]) -> None:
    acquisition = series.image.acquisition
    _projection(ds, series, window)
    view = acquisition["view_position"]
    ds.ImageLaterality = acquisition["laterality"]
    ds.ViewPosition = view
    ds.PatientOrientation = list(acquisition["patient_orientation"])
    ds.AnatomicRegionSequence = Sequence([_code("76752008", "SCT", "Breast")])
    ds.ViewCodeSequence = Sequence(
        [
            _code("399162004", "SCT", "cranio-caudal")
            if view == "CC"
            else _code("399368009", "SCT", "medio-lateral oblique")
        ]
    )
    ds.BreastImplantPresent = "NO"
    ds.PartialView = "NO"
    ds.OrganExposed = "BREAST"
    ds.BodyPartThickness = _ds(acquisition["body_part_thickness_mm"])
    ds.CompressionForce = _ds(acquisition["compression_force_n"])
    ds.PositionerPrimaryAngle = _ds(0.0 if view == "CC" else (45.0 if acquisition["laterality"] == "R" else -45.0))
    ds.DetectorType = "DIRECT"
    ds.AnodeTargetMaterial = "TUNGSTEN"
    ds.FilterMaterial = "RHODIUM"
    ds.DistanceSourceToDetector = _ds(660.0)
    ds.DistanceSourceToPatient = _ds(640.0)
