"""RadScholar contracts, generated from proto/radscholar by proto/generate.py. Do not edit."""
