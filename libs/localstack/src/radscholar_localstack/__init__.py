"""RadScholar on one machine: generates the local configuration, then starts and supervises Orthanc,
MLflow, a Ray head, the five services and the gateway as child processes (``python -m
radscholar_localstack up``)."""
