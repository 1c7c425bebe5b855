"""Training speed on an NVIDIA GPU: the platform's loop run plainly against the same loop under Ray Train, in one run.

    .venv/bin/python -m bench.gpu_train [--workload all|unet3d|densenet2d] [--repeat 2] [--epochs 4]
                                        [--loader-workers 8] [--threads 4] [--no-ray] [--smoke]

The training issue's two workloads, mixed precision on, on synthetic samples made here (seeded; samples a second do
not depend on their content):

1. ``unet3d``: MONAI's UNet 3D (the zoo's ``unet``), segmentation of 96^3 patches, batch 2 (one patch per volume,
   so a step sees two patches). Reference: a plain PyTorch loop trains it on an H100 at about 135 samples/s.
2. ``densenet2d``: DenseNet-121 2D, classification of one-channel 224^2 images, batch 64. Reference: about
   960 samples/s on an H100.

Each runs the platform's loop (``radscholar_training.domain.loop.train``) with the plain session (``LocalSession``
on the GPU, in this process) and, when Ray is installed, with the Ray Train session (``RaySession`` in a one-GPU-worker
``TorchTrainer`` on a local Ray), taking turns --repeat times. Both sides get the same torch threads (--threads: Ray
gives its worker that many CPUs) and the same DataLoader processes (--loader-workers, which augment on the CPU).
Samples a second are the loop's own, training only: the median over the epochs after the first, then over the repeats.
Ray overhead is 1 - Ray / plain (goal: at most 5 %); the plain loop is also set against the reference figures.

Also reported: torch's peak GPU memory on the training device (the Ray worker's own for Ray), the device's peak
memory in use, and GPU utilisation sampled every 0.25 s during each run from NVML (``pynvml``) or ``nvidia-smi``:
its mean over the run and over the busy part (from the first to the last sample above zero: Ray's start excluded).

MONAI is required, Ray optional. Without a CUDA device the benchmark stops with a message; --smoke runs tiny sizes
on the CPU (plain and, with Ray, one CPU worker) to test this code path; its numbers mean nothing. Results go to
stdout and, as JSON, to --out.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform as host
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

try:
    import monai
    import torch

    from bench.train import RAY_OVERHEAD_GOAL, REPO_ROOT, Measured, Workload, local_ray, plain_run, ray_run
except ModuleNotFoundError as missing:
    raise SystemExit(
        f"bench.gpu_train needs {missing.name!r}: MONAI, PyTorch and the training service's packages "
        "(scripts/bootstrap.sh installs them into .venv)"
    ) from None

REFERENCE_SAMPLES_PER_SECOND = {"unet3d": 135.0, "densenet2d": 960.0}  # a plain PyTorch loop on an H100
SAMPLE_SECONDS = 0.25

WORKLOADS = {
    "unet3d": Workload(
        name="MONAI UNet 3D segmentation, 96^3 patches, batch 2",
        task="segmentation",
        spatial_dims=3,
        architecture="unet",
        size=(96, 96, 96),
        batch_size=2,
        train_samples=256,
        validation_samples=2,
        epochs=4,
    ),
    "densenet2d": Workload(
        name="DenseNet-121 2D classification, 224^2, batch 64",
        task="classification",
        spatial_dims=2,
        architecture="densenet121",
        size=(224, 224),
        batch_size=64,
        train_samples=2048,
        validation_samples=64,
        epochs=4,
    ),
}
SMOKE_SIZES: dict[str, dict[str, Any]] = {
    "unet3d": {"size": (32, 32, 32), "train_samples": 4, "validation_samples": 1, "epochs": 2},
    "densenet2d": {"size": (32, 32), "batch_size": 4, "train_samples": 8, "validation_samples": 4, "epochs": 2},
}


# --- GPU utilisation and memory ------------------------------------------------------------------------------------


def _nvml_reader(index: int) -> Callable[[], tuple[float, int]] | None:
    if importlib.util.find_spec("pynvml") is None:
        return None
    import pynvml

    pynvml.nvmlInit()
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)

    def read() -> tuple[float, int]:
        return float(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu), int(pynvml.nvmlDeviceGetMemoryInfo(handle).used)

    return read


def _smi_reader(index: int) -> Callable[[], tuple[float, int]] | None:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    query = [smi, f"--id={index}", "--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,nounits"]

    def read() -> tuple[float, int]:
        utilisation, used = subprocess.run(query, capture_output=True, text=True, check=True).stdout.split(",")
        return float(utilisation), int(float(used)) << 20  # MiB

    return read


def gpu_reader(index: int) -> tuple[str, Callable[[], tuple[float, int]]] | None:
    """Reads (utilisation %, memory in use in bytes) of a device: NVML when installed, else nvidia-smi, else None.

    ``index`` is NVML's (nvidia-smi's) numbering, which CUDA_VISIBLE_DEVICES can make differ from torch's.
    """
    for source, make in (("nvml", _nvml_reader), ("nvidia-smi", _smi_reader)):
        with contextlib.suppress(Exception):
            read = make(index)
            if read is not None:
                read()
                return source, read
    return None


@dataclass
class GpuSamples:
    utilisation: list[float] = field(default_factory=list)  # %
    memory_used: list[int] = field(default_factory=list)  # bytes, the whole device

    def summary(self) -> dict[str, float | int | None]:
        busy = [i for i, value in enumerate(self.utilisation) if value > 0]
        window = self.utilisation[busy[0] : busy[-1] + 1] if busy else []
        return {
            "utilisation_mean": statistics.fmean(self.utilisation) if self.utilisation else None,
            "utilisation_busy_mean": statistics.fmean(window) if window else None,
            "device_memory_peak_bytes": max(self.memory_used) if self.memory_used else None,
        }


@contextlib.contextmanager
def sampling(reader: Callable[[], tuple[float, int]] | None) -> Iterator[GpuSamples]:
    """Samples the device every SAMPLE_SECONDS in a thread while the block runs (nothing without a reader)."""
    samples = GpuSamples()
    if reader is None:
        yield samples
        return
    stop = threading.Event()

    def poll(read: Callable[[], tuple[float, int]]) -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):
                utilisation, used = read()
                samples.utilisation.append(utilisation)
                samples.memory_used.append(used)
            stop.wait(SAMPLE_SECONDS)

    thread = threading.Thread(target=poll, args=(reader,), daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join(timeout=10)


# --- measuring ------------------------------------------------------------------------------------------------------


@dataclass
class Run:
    measured: Measured
    gpu: dict[str, float | int | None]


@dataclass
class Side:
    """One way of running a workload, over the repeats."""

    runs: list[Run] = field(default_factory=list)

    @property
    def samples_per_second(self) -> float:
        return statistics.median(run.measured.samples_per_second for run in self.runs)

    def median(self, name: str) -> float | None:
        values = [run.gpu[name] for run in self.runs if run.gpu.get(name) is not None]
        return statistics.median(v for v in values if v is not None) if values else None

    def summary(self) -> dict[str, Any]:
        peaks = [run.measured.peak_memory_bytes for run in self.runs if run.measured.peak_memory_bytes is not None]
        return {
            "samples_per_second": self.samples_per_second,
            "wall_seconds": statistics.median(run.measured.wall_seconds for run in self.runs),
            "torch_peak_memory_bytes": max(peaks) if peaks else None,
            "device_memory_peak_bytes": self.median("device_memory_peak_bytes"),
            "utilisation_mean": self.median("utilisation_mean"),
            "utilisation_busy_mean": self.median("utilisation_busy_mean"),
            "runs": [{**asdict(run.measured), **run.gpu} for run in self.runs],
        }


def describe(label: str, run: Run) -> str:
    m = run.measured
    epochs = ", ".join(f"{rate:.1f}" for rate in m.epoch_rates)
    text = f"  {label:<12} {m.samples_per_second:8.1f} samples/s (epochs: {epochs}), wall {m.wall_seconds:6.1f} s"
    if m.peak_memory_bytes is not None:
        text += f", peak {m.peak_memory_bytes / 2**30:.2f} GiB"
    if run.gpu.get("utilisation_busy_mean") is not None:
        text += f", GPU busy {run.gpu['utilisation_busy_mean']:.0f} % (run mean {run.gpu['utilisation_mean']:.0f} %)"
    return text


def gib(value: float | None) -> str:
    return "n/a" if value is None else f"{value / 2**30:.2f} GiB"


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} %"


def ray_usable() -> str | None:
    """Why Ray Train cannot run here, or None when it may (Ray is imported only once local_ray set its environment)."""
    return "Ray is not installed" if importlib.util.find_spec("ray") is None else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workload", choices=["all", *WORKLOADS], default="all")
    parser.add_argument("--repeat", type=int, default=2, help="plain and Ray runs, taking turns; the median is kept")
    parser.add_argument("--epochs", type=int, default=None, help="per run; the first one is not counted (default 4)")
    parser.add_argument("--loader-workers", type=int, default=None, help="DataLoader processes (default 8; smoke 0)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads a side (default 4; smoke 1)")
    parser.add_argument("--no-ray", action="store_true", help="the plain loop only")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU: tests the code path only")
    parser.add_argument("--out", type=Path, default=None, help="default var/bench/gpu_train.json (smoke: ...-smoke)")
    args = parser.parse_args(argv)

    if not args.smoke and not torch.cuda.is_available():
        print(
            "bench.gpu_train needs an NVIDIA GPU (torch.cuda.is_available() is False); "
            "--smoke runs its code path on the CPU",
            file=sys.stderr,
        )
        return 2
    names = list(WORKLOADS) if args.workload == "all" else [args.workload]
    workloads = {name: WORKLOADS[name] for name in names}
    if args.smoke:
        workloads = {
            name: replace(w, name=f"smoke run of {name}, its sizes tiny", **SMOKE_SIZES[name])
            for name, w in workloads.items()
        }
        args.repeat = 1
    if args.epochs is not None:
        workloads = {name: replace(w, epochs=args.epochs) for name, w in workloads.items()}
    cpus = os.cpu_count() or 1
    if args.loader_workers is None:
        args.loader_workers = 0 if args.smoke else min(8, max(cpus - 2, 0))
    if args.threads is None:
        args.threads = 1 if args.smoke else min(4, cpus)
    device = "cpu" if args.smoke else "cuda"
    use_gpu = device == "cuda"
    out = args.out or REPO_ROOT / f"var/bench/gpu_train{'-smoke' if args.smoke else ''}.json"

    why_no_ray = "--no-ray" if args.no_ray else ray_usable()
    if why_no_ray:
        print(f"plain loop only: {why_no_ray}", flush=True)
    gpu_name = torch.cuda.get_device_name() if use_gpu else "none (smoke run on the CPU)"
    found = gpu_reader(torch.cuda.current_device()) if use_gpu else None
    reader = found[1] if found else None
    print(
        f"GPU: {gpu_name}; utilisation from {found[0] if found else 'nowhere (no NVML, no nvidia-smi)'}; "
        f"{os.cpu_count()} CPUs; {args.threads} torch thread(s) and {args.loader_workers} loader process(es) a side",
        flush=True,
    )

    results: dict[str, dict[str, Any]] = {}
    (REPO_ROOT / "var/bench").mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="gpu-train-", dir=REPO_ROOT / "var/bench"))
    try:
        with contextlib.ExitStack() as stack:
            ray_start_seconds = None
            if not why_no_ray:
                ray_start_seconds = stack.enter_context(local_ray(cpus=cpus, gpus=1 if use_gpu else 0))
                print(f"Ray started in {ray_start_seconds:.1f} s", flush=True)
            for name, workload in workloads.items():
                print(f"\n{name}: {workload.name}, {workload.train_samples} training samples, {workload.epochs} epochs")
                samples = workload.samples()
                plain, ray = Side(), Side()
                for turn in range(args.repeat):
                    order = ("plain", "ray") if turn % 2 == 0 else ("ray", "plain")  # drift hits both sides alike
                    for way in order:
                        if way == "plain":
                            with sampling(reader) as gpu:
                                measured = plain_run(workload, samples, work, device, args.threads, args.loader_workers)
                            plain.runs.append(Run(measured, gpu.summary()))
                            print(describe("plain", plain.runs[-1]), flush=True)
                        elif not why_no_ray:
                            with sampling(reader) as gpu:
                                measured = ray_run(workload, work, 1, args.threads, use_gpu, args.loader_workers)
                            ray.runs.append(Run(measured, gpu.summary()))
                            print(describe("Ray Train", ray.runs[-1]), flush=True)
                del samples
                results[name] = report_workload(name, workload, plain, ray, use_gpu)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    report = {
        "benchmark": "gpu_train",
        "smoke": args.smoke,
        "machine": {
            "gpu": gpu_name,
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "platform": host.platform(),
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "monai": monai.__version__,
            "ray": None if why_no_ray else importlib.import_module("ray").__version__,
        },
        "settings": {
            "repeat": args.repeat,
            "threads_per_side": args.threads,
            "loader_workers": args.loader_workers,
            "mixed_precision": use_gpu,
            "gpu_samples_from": found[0] if found else None,
        },
        "goals": {"ray_overhead": RAY_OVERHEAD_GOAL},
        "reference_samples_per_second": REFERENCE_SAMPLES_PER_SECOND,
        "ray_start_seconds": ray_start_seconds,
        "without_ray": why_no_ray,
        "workloads": results,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten to {out}")
    return 0


def report_workload(name: str, workload: Workload, plain: Side, ray: Side, use_gpu: bool) -> dict[str, Any]:
    """Prints one workload's lines; its part of the JSON report."""
    plain_rate = plain.samples_per_second
    reference = REFERENCE_SAMPLES_PER_SECOND[name]
    result: dict[str, Any] = {
        "workload": asdict(workload),
        "plain": plain.summary(),
        "ray": ray.summary() if ray.runs else None,
        "plain_over_reference": plain_rate / reference if use_gpu else None,
    }
    plain_summary = result["plain"]
    print(
        f"{name}: plain {plain_rate:.1f} samples/s"
        + (f" ({plain_rate / reference:.2f}x the reference {reference:.0f})" if use_gpu else "")
        + f", peak {gib(plain_summary['torch_peak_memory_bytes'])}, GPU busy"
        f" {percent(plain_summary['utilisation_busy_mean'])}"
    )
    if ray.runs:
        overhead = 1 - ray.samples_per_second / plain_rate
        result["ray_overhead"] = overhead
        result["goal_met"] = overhead <= RAY_OVERHEAD_GOAL
        ray_summary = result["ray"]
        print(
            f"{name}: Ray Train {ray.samples_per_second:.1f} samples/s, peak "
            f"{gib(ray_summary['torch_peak_memory_bytes'])}, GPU busy {percent(ray_summary['utilisation_busy_mean'])}: "
            f"Ray overhead {overhead:+.1%} (goal <= {RAY_OVERHEAD_GOAL:.0%}): "
            f"{'MET' if result['goal_met'] else 'NOT MET'}"
        )
    return result


if __name__ == "__main__":
    raise SystemExit(main())
