"""DICOMweb at the gateway (PS3.18): the pure parts of the `/dicom-web/...` routes.

Reads (QIDO-RS, WADO-RS) are proxied to the DICOM server's DICOMweb plugin (`upstream`); stores
(STOW-RS) are split into parts (`multipart`), ingested through the DICOM store's checks, and answered
with the PS3.18 Store Instances Response (`stow`).
"""
