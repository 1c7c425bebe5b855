"""Generate synthetic DICOM cohorts with ground truth.

Example: ``python -m radscholar_phantoms generate --kind ct --cases 20 --sites 2 --seed 7 --out DIR``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from radscholar_phantoms.cohort import KINDS
from radscholar_phantoms.generation import generate


def _shape(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected e.g. 32x64x64, got {text!r}") from None
    if len(values) not in (2, 3) or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected 2 or 3 positive sizes, got {text!r}")
    return values


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m radscholar_phantoms", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate", help="write a synthetic cohort with ground truth")
    gen.add_argument("--kind", choices=KINDS, required=True, help="ct, dx (chest X-ray), mg or mr")
    gen.add_argument("--cases", type=int, required=True, help="number of patients (one study each)")
    gen.add_argument("--sites", type=int, default=1, help="number of hospitals (round-robin)")
    gen.add_argument("--seed", type=int, default=0, help="same seed, same files")
    gen.add_argument("--out", type=Path, required=True, help="output folder (empty or absent)")
    gen.add_argument("--shape", type=_shape, help="array size, slices x rows x columns (3D) or rows x columns")
    gen.add_argument("--overwrite", action="store_true", help="write into a non-empty folder")
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with tqdm(total=args.cases, unit="case", desc=f"{args.kind} phantoms", disable=args.quiet) as bar:

        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        try:
            manifest = generate(
                args.kind,
                args.cases,
                args.sites,
                args.seed,
                args.out,
                progress,
                shape=args.shape,
                overwrite=args.overwrite,
            )
        except ValueError as error:
            bar.close()
            sys.stderr.write(f"error: {error}\n")
            return 2
    sys.stdout.write(json.dumps({"out": str(args.out), **manifest.summary()}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
