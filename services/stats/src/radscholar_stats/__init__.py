"""RadScholar statistics and classic machine learning service."""
