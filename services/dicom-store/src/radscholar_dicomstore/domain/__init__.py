"""DICOM rules as pure code: queries, summaries. No Orthanc client here."""
