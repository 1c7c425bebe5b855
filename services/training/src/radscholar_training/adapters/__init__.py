"""What the training service talks to: MLflow (runs, metrics, artifacts, the model registry)."""
