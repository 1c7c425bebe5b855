"""RadScholar radiomics service: IBSI-compliant extraction, feature tables, stability, selection."""
