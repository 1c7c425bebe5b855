"""RadScholar training service: model zoo, training runs on Ray, MLflow tracking and registry."""
