"""Entry point: ``python -m radscholar_localstack up``."""

import sys

from radscholar_localstack.cli import main

sys.exit(main())
