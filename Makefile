# RadScholar: `make up` brings the platform up on this machine; `make test` runs the whole suite.
# Both install what is missing first (scripts/bootstrap.sh).

PY := .venv/bin/python
SRC := proto/generate.py libs services gateway sdk tests bench
PACKAGES := radscholar_core radscholar_phantoms radscholar_localstack radscholar_dicomstore radscholar_labeling \
	radscholar_training radscholar_radiomics radscholar_stats radscholar_gateway radscholar

.PHONY: up demo bootstrap test lint types proto proto-check pytest fmt lock clean

up: bootstrap                 ## start Orthanc, MLflow, Ray, the five services and the gateway
	$(PY) -m radscholar_localstack up $(ARGS)

demo: bootstrap               ## the same, with a small phantom project loaded
	$(PY) -m radscholar_localstack up --demo $(ARGS)

bootstrap:
	@scripts/bootstrap.sh

test: bootstrap lint types proto-check pytest   ## everything CI checks

lint:
	$(PY) -m ruff check $(SRC)
	$(PY) -m ruff format --check $(SRC)

types:
	$(PY) -m mypy $(addprefix -p ,$(PACKAGES))

proto:                        ## regenerate proto/python from proto/radscholar
	$(PY) proto/generate.py

proto-check:                  ## fail if the committed generated code is stale
	$(PY) proto/generate.py --check

pytest:
	$(PY) -m pytest $(PYTEST_ARGS)

fmt:
	$(PY) -m ruff check --fix $(SRC)
	$(PY) -m ruff format $(SRC)

lock:                         ## re-resolve requirements/requirements.in into the lock
	scripts/lock.sh

clean:
	rm -rf .venv var .pytest_cache .mypy_cache .ruff_cache
