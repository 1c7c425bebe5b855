import json
import logging

import pytest

from radscholar_core.logs import JsonFormatter, bound, configure_logging


def test_json_lines_carry_ids_and_extras(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("demo", "INFO")
    log = logging.getLogger("demo.test")
    with bound(request="req-1", job="job-9"):
        log.info("hello %s", "world", extra={"series": "1.2.3"})
    log.info("outside")
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first["message"] == "hello world"
    assert first["service"] == "demo"
    assert (first["request_id"], first["job_id"], first["series"]) == ("req-1", "job-9", "1.2.3")
    assert "request_id" not in second
    assert first["level"] == "INFO"


def test_exceptions_are_one_line() -> None:
    formatter = JsonFormatter("demo")
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, __file__, 1, "failed", (), __import__("sys").exc_info()
        )
    line = formatter.format(record)
    assert "\n" not in line
    assert "ValueError: boom" in json.loads(line)["exception"]
