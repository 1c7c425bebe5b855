"""RadScholar DICOM store service, backed by Orthanc."""
