"""Training speed: the platform's loop run plainly against the same loop under Ray Train, in one run, on the CPU.

    .venv/bin/python -m bench.train [--samples 64] [--epochs 3] [--repeat 3] [--threads 1] [--workers 1]

One workload on synthetic samples (seeded; samples a second do not depend on their content): 3D classification,
ResNet-18 on 32^3 crops, batch 8. The same training loop (``radscholar_training.domain.loop.train``) runs with
the plain session (``LocalSession``: this process, the CPU) and with the Ray Train session (``RaySession`` in a
one-worker ``TorchTrainer`` on a local Ray started by the benchmark), the two taking turns --repeat times.

Threads are equal on both sides: ``torch.set_num_threads(--threads)`` in this process and in each Ray worker, which
Ray gives --threads CPUs. Samples a second are the loop's own (``EpochReport.samples_per_second``, training only),
the median over the epochs after the first (which warms up), then the median over the repeats. Ray overhead is
1 - Ray / plain. Goal (the training issue): at most 5 % at equal workers. Wall times are reported too: the plain
``train`` call, Ray's ``fit`` and Ray's start. With --workers N > 1, Ray Train also runs on N workers (the plain
loop has only one), reported as Ray's scaling over one worker. Results go to stdout and, as JSON, to --out.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform as host
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import monai
import numpy as np
import torch
from torch import nn

from radscholar_core.objectstore import ObjectStoreSettings, open_object_store
from radscholar_training.domain.loop import EpochReport, LocalSession, train
from radscholar_training.domain.networks import build_network
from radscholar_training.domain.plan import checkpoint_key
from radscholar_training.domain.preprocess import Sample
from radscholar_training.domain.settings import RunSettings, parse_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
RAY_OVERHEAD_GOAL = 0.05


@dataclass(frozen=True)
class Workload:
    """One training workload on synthetic samples; segmentation volumes are one patch each (``size``)."""

    name: str
    task: str
    spatial_dims: int
    architecture: str
    size: tuple[int, ...]  # sample (segmentation: patch) size, index order x, y[, z]
    batch_size: int  # samples (segmentation: patches, one per volume) a step
    train_samples: int
    validation_samples: int
    epochs: int
    seed: int = 20240607

    def settings(self, workers: int = 1) -> RunSettings:
        """The run's settings: the task's defaults, validation and a checkpoint after the last epoch only."""
        raw: dict[str, Any] = {
            "architecture": self.architecture,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "workers": workers,
            "seed": self.seed,
            "validation_interval": self.epochs,
            "checkpoint_interval": self.epochs,
            "preprocessing": {"size": list(self.size)},
        }
        if self.task == "segmentation":
            raw["preprocessing"]["samples_per_volume"] = 1
        return parse_settings(self.task, self.spatial_dims, raw)

    def samples(self) -> tuple[list[Sample], list[Sample]]:
        """Training and validation samples: a bright blob (class 1, or the segmentation's foreground) in noise."""
        generator = np.random.default_rng(self.seed)
        count = self.train_samples + self.validation_samples
        made = [self._sample(f"s{n:05d}", n % 2, generator) for n in range(count)]
        return made[: self.train_samples], made[self.train_samples :]

    def _sample(self, name: str, label: int, generator: np.random.Generator) -> Sample:
        shape = tuple(reversed(self.size))  # array order
        grid = np.ogrid[tuple(slice(0, side) for side in shape)]
        centre = [generator.uniform(side / 4, 3 * side / 4) for side in shape]
        radius = generator.uniform(0.08, 0.2) * min(shape)
        blob = np.asarray(sum((axis - c) ** 2 for axis, c in zip(grid, centre, strict=True)) <= radius**2)
        image = generator.normal(size=shape).astype(np.float32)
        if self.task == "segmentation":
            image += 2.0 * blob
            return Sample(name, image[None], blob.astype(np.uint8))
        image += 2.0 * blob * label
        return Sample(name, image[None], np.array(label, dtype=np.int64))

    def network(self) -> Callable[[], nn.Module]:
        shape = tuple(reversed(self.size))
        return lambda: build_network(self.architecture, self.spatial_dims, 1, 2, shape)


CPU_WORKLOAD = Workload(
    name="resnet18 3D classification, 32^3, batch 8",
    task="classification",
    spatial_dims=3,
    architecture="resnet18",
    size=(32, 32, 32),
    batch_size=8,
    train_samples=64,
    validation_samples=8,
    epochs=3,
)


@dataclass
class Measured:
    """One training run: the loop's samples a second per epoch and the wall time of the whole call."""

    epoch_rates: list[float]
    wall_seconds: float
    peak_memory_bytes: int | None = None  # CUDA: torch's peak allocation on the training device

    @property
    def samples_per_second(self) -> float:
        """The median over the epochs after the first (or the only epoch)."""
        return statistics.median(self.epoch_rates[1:] or self.epoch_rates)


@dataclass
class Comparison:
    """The plain loop against Ray Train, repeat by repeat."""

    plain: list[Measured] = field(default_factory=list)
    ray: list[Measured] = field(default_factory=list)

    @staticmethod
    def median_rate(runs: Sequence[Measured]) -> float:
        return statistics.median(run.samples_per_second for run in runs)

    @staticmethod
    def median_wall(runs: Sequence[Measured]) -> float:
        return statistics.median(run.wall_seconds for run in runs)

    @property
    def overhead(self) -> float:
        return 1 - self.median_rate(self.ray) / self.median_rate(self.plain)


def rates(history: Sequence[EpochReport]) -> list[float]:
    return [report.samples_per_second for report in history]


def plain_run(
    workload: Workload,
    samples: tuple[list[Sample], list[Sample]],
    folder: Path,
    device: str,
    threads: int,
    loader_workers: int = 0,
) -> Measured:
    """The loop with the plain session, in this process."""
    torch.set_num_threads(threads)
    session = LocalSession(folder / f"plain-{uuid.uuid4().hex}", device)
    cuda = session.device.type == "cuda"
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(session.device)
    started = time.perf_counter()
    outcome = train(workload.settings(), *samples, session, workload.network(), loader_workers=loader_workers)
    if cuda:
        torch.cuda.synchronize(session.device)
    wall = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated(session.device) if cuda else None
    if cuda:
        torch.cuda.empty_cache()  # the network is gone: its cached blocks go back to the device for the next run
    return Measured(rates(outcome.history), wall, peak)


def ray_worker(config: Mapping[str, Any]) -> None:
    """What each Ray Train worker runs: the same loop on the same samples, with the Ray session."""
    from radscholar_training.ray_session import RaySession

    torch.set_num_threads(config["threads"])
    workload = Workload(**config["workload"])
    objects = open_object_store(ObjectStoreSettings(root=Path(config["objects"])))
    session = RaySession(objects, config["run_id"], workload.epochs)
    cuda = session.device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(session.device)
    train_samples, validation = workload.samples()
    settings = workload.settings(session.world_size)
    train(settings, train_samples, validation, session, workload.network(), loader_workers=config["loader_workers"])
    if cuda and session.rank == 0:
        peak = {"peak_memory_bytes": torch.cuda.max_memory_allocated(session.device)}
        (Path(config["objects"]) / f"{config['run_id']}.json").write_text(json.dumps(peak))


@contextlib.contextmanager
def local_ray(cpus: int, gpus: int | None = None) -> Iterator[float]:
    """A Ray of this process's own (never one already running here); yields the seconds it took to start."""
    temp = tempfile.mkdtemp(prefix="rs-bench-ray-", dir="/tmp")  # short: Ray's socket paths must fit
    token = Path(temp) / "auth_token"  # its own token: Ray would otherwise write ~/.ray/auth_token, which others read
    token.write_text(secrets.token_hex(32))
    token.chmod(0o600)
    os.environ.update({"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)})
    import ray  # after the environment: Ray reads its settings on import

    python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
    try:
        started = time.perf_counter()
        ray.init(
            address="local",
            _node_ip_address="127.0.0.1",
            num_cpus=cpus,
            num_gpus=gpus,
            include_dashboard=False,
            log_to_driver=False,
            _temp_dir=temp,
            runtime_env={"env_vars": {"PYTHONPATH": python_path}},  # workers import this module's ray_worker
        )
        yield time.perf_counter() - started
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


def ray_run(
    workload: Workload, folder: Path, workers: int, threads: int, use_gpu: bool = False, loader_workers: int = 0
) -> Measured:
    """The loop under Ray Train (a local Ray must be up): ``fit`` timed, the history read from the run's checkpoint."""
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from bench.train import ray_worker as worker  # by module name: Ray workers import it rather than unpickle __main__
    from radscholar_training.ray_session import read_state

    run_id = f"bench-{uuid.uuid4().hex}"
    objects = folder / "objects"
    resources = {"CPU": float(threads), **({"GPU": 1.0} if use_gpu else {})}
    trainer = TorchTrainer(
        worker,
        train_loop_config={
            "workload": asdict(workload),
            "objects": str(objects),
            "run_id": run_id,
            "threads": threads,
            "loader_workers": loader_workers,
        },
        scaling_config=ScalingConfig(num_workers=workers, use_gpu=use_gpu, resources_per_worker=resources),
        run_config=RunConfig(name=run_id, storage_path=str(folder / "ray")),
    )
    started = time.perf_counter()
    trainer.fit()
    wall = time.perf_counter() - started
    state = read_state(open_object_store(ObjectStoreSettings(root=objects)), checkpoint_key(run_id))
    if state is None:
        raise RuntimeError(f"the Ray run {run_id} left no checkpoint")
    history = [EpochReport.from_dict(entry) for entry in state["tracker"]["history"]]
    peak_file = objects / f"{run_id}.json"
    peak = json.loads(peak_file.read_text())["peak_memory_bytes"] if peak_file.exists() else None
    return Measured(rates(history), wall, peak)


def describe(label: str, run: Measured) -> str:
    epochs = ", ".join(f"{rate:.1f}" for rate in run.epoch_rates)
    return f"  {label:<16} {run.samples_per_second:7.2f} samples/s (epochs: {epochs}), wall {run.wall_seconds:6.1f} s"


def machine() -> dict[str, Any]:
    import ray

    return {
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "python": sys.version.split()[0],
        "platform": host.platform(),
        "torch": torch.__version__,
        "monai": monai.__version__,
        "ray": ray.__version__,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=CPU_WORKLOAD.train_samples, help="training samples")
    parser.add_argument("--epochs", type=int, default=CPU_WORKLOAD.epochs, help="the first one is not counted")
    parser.add_argument("--repeat", type=int, default=3, help="plain and Ray runs, taking turns; the median is kept")
    parser.add_argument("--threads", type=int, default=1, help="torch threads, and CPUs of each Ray worker")
    parser.add_argument("--workers", type=int, default=1, help="N > 1: Ray Train on N workers as well")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "var/bench/train.json")
    args = parser.parse_args(argv)
    workload = Workload(**{**asdict(CPU_WORKLOAD), "train_samples": args.samples, "epochs": args.epochs})

    samples = workload.samples()
    print(
        f"{workload.name}: {workload.train_samples} training samples, {workload.epochs} epochs; "
        f"{args.threads} thread(s) a side; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    comparison = Comparison()
    scaled: list[Measured] = []
    (REPO_ROOT / "var/bench").mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="train-", dir=REPO_ROOT / "var/bench"))
    try:
        started = time.perf_counter()
        with local_ray(cpus=max(args.workers, 1) * args.threads) as ray_start_seconds:
            print(f"Ray started in {ray_start_seconds:.1f} s", flush=True)
            for turn in range(args.repeat):
                print(f"repeat {turn + 1}/{args.repeat}", flush=True)
                order = ("plain", "ray") if turn % 2 == 0 else ("ray", "plain")  # drift hits both sides alike
                for side in order:
                    if side == "plain":
                        comparison.plain.append(plain_run(workload, samples, work, "cpu", args.threads))
                        print(describe("plain", comparison.plain[-1]), flush=True)
                    else:
                        comparison.ray.append(ray_run(workload, work, 1, args.threads))
                        print(describe("Ray Train, 1", comparison.ray[-1]), flush=True)
                if args.workers > 1:
                    scaled.append(ray_run(workload, work, args.workers, args.threads))
                    print(describe(f"Ray Train, {args.workers}", scaled[-1]), flush=True)
        total_seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(work, ignore_errors=True)

    plain_rate, ray_rate = Comparison.median_rate(comparison.plain), Comparison.median_rate(comparison.ray)
    overhead = comparison.overhead
    goal_met = overhead <= RAY_OVERHEAD_GOAL
    print()
    print(
        f"plain loop {plain_rate:.2f} samples/s, Ray Train (1 worker) {ray_rate:.2f} samples/s: Ray overhead "
        f"{overhead:+.1%} (goal <= {RAY_OVERHEAD_GOAL:.0%}): {'MET' if goal_met else 'NOT MET'}"
    )
    print(
        f"wall: plain train() {Comparison.median_wall(comparison.plain):.1f} s, Ray fit() "
        f"{Comparison.median_wall(comparison.ray):.1f} s, Ray start {ray_start_seconds:.1f} s; the first Ray run "
        f"with Ray's start {ray_start_seconds + comparison.ray[0].wall_seconds:.1f} s; all {total_seconds:.0f} s"
    )
    scaling: dict[str, Any] | None = None
    if scaled:
        scaled_rate = Comparison.median_rate(scaled)
        scaling = {
            "workers": args.workers,
            "samples_per_second": scaled_rate,
            "over_one_ray_worker": scaled_rate / ray_rate,
            "over_plain": scaled_rate / plain_rate,
            "runs": [asdict(run) for run in scaled],
        }
        print(
            f"Ray Train on {args.workers} workers: {scaled_rate:.2f} samples/s, {scaled_rate / ray_rate:.2f}x one "
            f"Ray worker, {scaled_rate / plain_rate:.2f}x the plain loop"
        )
    report = {
        "benchmark": "train",
        "machine": machine(),
        "settings": {
            "workload": asdict(workload),
            "repeat": args.repeat,
            "threads_per_side": args.threads,
            "device": "cpu",
        },
        "goals": {"ray_overhead": RAY_OVERHEAD_GOAL},
        "result": {
            "plain_samples_per_second": plain_rate,
            "ray_samples_per_second": ray_rate,
            "ray_overhead": overhead,
            "goal_met": goal_met,
            "plain_wall_seconds": Comparison.median_wall(comparison.plain),
            "ray_fit_seconds": Comparison.median_wall(comparison.ray),
            "ray_start_seconds": ray_start_seconds,
            "plain_runs": [asdict(run) for run in comparison.plain],
            "ray_runs": [asdict(run) for run in comparison.ray],
        },
        "scaling": scaling,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
