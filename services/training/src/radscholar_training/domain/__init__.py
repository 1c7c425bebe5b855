"""Training rules as pure code: the model zoo, settings, metrics. No grpc, Ray or MLflow client."""
