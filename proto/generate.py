"""Generate `radscholar_proto` (messages, gRPC stubs and .pyi) from proto/radscholar/**.proto.

    python proto/generate.py            # regenerate proto/python/src/radscholar_proto
    python proto/generate.py --check    # fail if the committed code differs from a fresh generation

protoc names modules after the proto path (`radscholar.common.v1`); the generated package is
`radscholar_proto` so that it never collides with the SDK's `radscholar` package, hence the import
rewrite below.
"""

from __future__ import annotations

import argparse
import filecmp
import re
import shutil
import sys
import tempfile
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

PROTO_ROOT = Path(__file__).resolve().parent
PACKAGE_DIR = PROTO_ROOT / "python" / "src" / "radscholar_proto"
HEADER = '"""RadScholar contracts, generated from proto/radscholar by proto/generate.py. Do not edit."""\n'
IMPORT = re.compile(r"^(from|import) radscholar\.", re.MULTILINE)


def generate(out: Path) -> None:
    """Write the whole generated package into `out`."""
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / "radscholar").rglob("*.proto"))
    with tempfile.TemporaryDirectory() as raw:
        include = Path(grpc_tools.__file__).parent / "_proto"
        args = [
            "protoc",
            f"-I{PROTO_ROOT}",
            f"-I{include}",
            f"--python_out={raw}",
            f"--pyi_out={raw}",
            f"--grpc_python_out={raw}",
            *protos,
        ]
        if protoc.main(args) != 0:
            sys.exit("protoc failed")
        for path in sorted(Path(raw, "radscholar").rglob("*.py*")):
            target = out / path.relative_to(Path(raw, "radscholar"))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(IMPORT.sub(r"\1 radscholar_proto.", path.read_text()))
    for folder in [out, *(p for p in out.rglob("*") if p.is_dir())]:
        (folder / "__init__.py").write_text(HEADER if folder == out else "")
    (out / "py.typed").write_text("")


def differences(a: Path, b: Path) -> list[str]:
    """Relative paths that differ between two trees (added, removed or changed)."""
    files_a = {p.relative_to(a) for p in a.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    files_b = {p.relative_to(b) for p in b.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    changed = {f for f in files_a & files_b if not filecmp.cmp(a / f, b / f, shallow=False)}
    return sorted(str(f) for f in (files_a ^ files_b) | changed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail on drift instead of writing")
    check = parser.parse_args().check
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "radscholar_proto"
        generate(fresh)
        if check:
            drift = differences(fresh, PACKAGE_DIR)
            if drift:
                sys.exit("generated code is out of date (run `make proto`):\n  " + "\n  ".join(drift))
            print("proto-check: generated code is up to date")
            return
        shutil.rmtree(PACKAGE_DIR, ignore_errors=True)
        shutil.copytree(fresh, PACKAGE_DIR)
        print(f"generated {PACKAGE_DIR.relative_to(PROTO_ROOT.parent)}")


if __name__ == "__main__":
    main()
