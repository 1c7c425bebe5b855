"""The /proc view finds descendants, command lines and memory."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from radscholar_localstack import proctable

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@pytest.fixture
def tree() -> Iterator[subprocess.Popen[bytes]]:
    """A shell whose child sleeps (two levels), with a marker on the command line."""
    sleeper = f"{sys.executable} -c 'import time; time.sleep(60)' localstack-test-marker"
    parent = subprocess.Popen(["sh", "-c", f"{sleeper} & wait"])
    deadline = time.monotonic() + 5
    while not proctable.descendants(parent.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    yield parent
    for pid in proctable.descendants(parent.pid):
        os.kill(pid, 9)
    parent.kill()
    parent.wait()


def test_descendants(tree: subprocess.Popen[bytes]) -> None:
    children = proctable.descendants(tree.pid)
    assert len(children) == 1
    assert proctable.cmdline(children[0])[-1] == "localstack-test-marker"


def test_find_by_cmdline(tree: subprocess.Popen[bytes]) -> None:
    # the shell names the marker in its script, the sleeper as an argument
    assert sorted(proctable.find_by_cmdline("localstack-test-marker")) == sorted(
        [tree.pid, *proctable.descendants(tree.pid)]
    )


def test_memory_of_this_process() -> None:
    sample = proctable.memory(os.getpid())
    assert sample is not None
    assert sample.rss > 1024 * 1024
    assert 0 < sample.pss <= sample.rss


def test_terminate_stops_and_reports_the_stubborn(tree: subprocess.Popen[bytes]) -> None:
    stubborn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal,time; signal.signal(15, signal.SIG_IGN); print('ok', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
    )
    assert stubborn.stdout is not None
    stubborn.stdout.readline()
    sleeper = proctable.descendants(tree.pid)[0]
    killed = proctable.terminate([sleeper, stubborn.pid], grace_s=0.5)
    assert killed == [stubborn.pid]
    stubborn.wait(timeout=5)
    deadline = time.monotonic() + 5
    while proctable.is_alive(sleeper) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not proctable.is_alive(sleeper)


def test_gone_processes() -> None:
    process = subprocess.Popen(["true"])
    process.wait()
    assert not proctable.is_alive(process.pid)
    assert proctable.memory(process.pid) is None
    assert proctable.cmdline(process.pid) == []
