"""The training loop one worker runs, whatever runs the worker.

A :class:`Session` hides where the loop runs: :class:`LocalSession` is one process on one device; the Ray Train
session (``radscholar_training.ray_session``) wraps the model for data-parallel training and stores checkpoints.
Each worker takes its share of the training samples by rank, validates the whole validation set on its own copy
of the model (so every worker takes the same early-stopping decision without talking to the others) and hands
the session a resumable state every ``checkpoint_interval`` epochs. On CPU, the same seed, samples and settings
give the same numbers, run straight through or resumed from any checkpoint.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from monai.inferers import sliding_window_inference
from monai.losses import DiceCELoss, DiceFocalLoss, DiceLoss, FocalLoss
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from radscholar_training.domain.augment import Augmenter, BoxPatchSampler, PatchSampler, sample_seed
from radscholar_training.domain.detection_metrics import MAP_IOU_THRESHOLDS, froc, mean_average_precision
from radscholar_training.domain.metrics import classification_metrics, dice_per_class, segmentation_metrics
from radscholar_training.domain.preprocess import Sample
from radscholar_training.domain.settings import RunSettings

logger = logging.getLogger(__name__)

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
StateDict = dict[str, torch.Tensor]
PROGRESS_SECONDS = 1.0  # at most one progress call a second, and one at the end of each epoch


@dataclass(frozen=True)
class EpochReport:
    epoch: int  # from 1
    train_loss: float  # mean over the epoch's batches, over all workers
    metrics: dict[str, float]  # validation metrics (val_loss, val_auc...), empty when the epoch did not validate
    learning_rate: float
    samples_per_second: float  # training samples (segmentation: patches) a second, all workers together
    seconds: float  # the whole epoch, validation included

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> EpochReport:
        return cls(**{**values, "metrics": dict(values["metrics"])})


@dataclass(frozen=True)
class Outcome:
    history: list[EpochReport]
    best_epoch: int  # the epoch of the best monitored metric; the last epoch when nothing was validated
    best_metric: float  # NaN when nothing was validated
    best_state: StateDict  # the model's state_dict at best_epoch, on the CPU
    stopped_early: bool


class Session(Protocol):
    """What the loop needs from whoever runs it."""

    @property
    def rank(self) -> int: ...

    @property
    def world_size(self) -> int: ...

    @property
    def device(self) -> torch.device: ...

    def prepare_model(self, model: nn.Module) -> nn.Module:
        """Move the model to the device (and wrap it for data-parallel training); parameters stay the same objects."""
        ...

    def restored(self) -> Mapping[str, Any] | None:
        """The state of the last checkpoint, to resume from, or None for a fresh start."""
        ...

    def progress(self, epoch: int, step: int, steps: int, loss: float, samples_per_second: float) -> None: ...

    def end_epoch(self, report: EpochReport, state: Mapping[str, Any] | None, best: bool) -> None:
        """Called after every epoch; ``state`` (to store) every checkpoint_interval epochs and after the last one."""
        ...


def train(
    settings: RunSettings,
    train: Sequence[Sample],
    validation: Sequence[Sample],
    session: Session,
    make_network: Callable[[], nn.Module],
    *,
    loader_workers: int = 0,
) -> Outcome:
    """Train a network from ``make_network`` (logits out) on ``train``; resume from the session's checkpoint.

    ``loader_workers`` > 0 prepares (augments) batches in that many processes, for GPUs that would wait on the
    CPU; the numbers stay the same, as each sample's randomness comes from its own seed.
    """
    device = session.device
    amp = settings.mixed_precision and device.type == "cuda"
    with _deterministic_on_cpu(device):
        _seed(settings.seed)  # before the network: its initial weights follow the seed
        network = make_network()
        restored = session.restored()
        if restored is not None:
            network.load_state_dict(restored["model"])
        model = session.prepare_model(network)
        optimizer = _optimizer(settings, network)
        schedule = _Schedule(settings, optimizer)
        scaler = torch.amp.GradScaler("cuda", enabled=amp)
        tracker = _Tracker(settings)
        loss_of = _loss(settings)
        start = 1
        if restored is not None:
            optimizer.load_state_dict(restored["optimizer"])
            schedule.load_state_dict(restored["schedule"])
            if restored["scaler"]:  # empty from a run without mixed precision
                scaler.load_state_dict(restored["scaler"])
            tracker.load_state_dict(restored["tracker"])
            _set_rng_state(restored["rng"])
            start = int(restored["epoch"]) + 1
        if tracker.should_stop:  # resumed from the checkpoint of an early stop
            return tracker.outcome(network, settings.epochs)
        samples = _TrainingSamples(settings, train)
        sampler: DistributedSampler[Any] = DistributedSampler(
            samples, num_replicas=session.world_size, rank=session.rank, shuffle=True, seed=settings.seed
        )
        for epoch in range(start, settings.epochs + 1):
            began = time.perf_counter()
            learning_rate = schedule.begin_epoch(epoch)
            samples.epoch = epoch
            sampler.set_epoch(epoch)
            train_loss, rate = _train_epoch(
                settings, epoch, model, samples, sampler, loss_of, optimizer, scaler, session, loader_workers
            )
            metrics: dict[str, float] = {}
            if validation and (epoch % settings.validation_interval == 0 or epoch == settings.epochs):
                metrics = _validate(settings, network, validation, loss_of, device, amp)
            best = tracker.update(epoch, metrics, network)
            if metrics:
                schedule.end_validation(improved=best)
            last = epoch == settings.epochs or tracker.should_stop
            report = EpochReport(epoch, train_loss, metrics, learning_rate, rate, time.perf_counter() - began)
            tracker.history.append(report)
            state = None
            if last or epoch % settings.checkpoint_interval == 0:
                state = {
                    "epoch": epoch,
                    "model": _cpu_copy(network.state_dict()),
                    "optimizer": _cpu_copy(optimizer.state_dict()),
                    "schedule": schedule.state_dict(),
                    "scaler": scaler.state_dict(),
                    "tracker": tracker.state_dict(),
                    "rng": _rng_state(),
                }
            session.end_epoch(report, state, best)
            if last:
                break
        return tracker.outcome(network, settings.epochs)


@torch.no_grad()
def predict(settings: RunSettings, model: nn.Module, samples: Sequence[Sample]) -> list[np.ndarray]:
    """Class probabilities (K,) per sample, a segmentation's class map (uint8, the sample's spatial shape), or a
    detection's (M, 2d + 2) float32 boxes (index order, on the sample's grid), scores and class indices."""
    device = next(model.parameters()).device
    amp = settings.mixed_precision and device.type == "cuda"
    model.eval()
    if settings.task == "detection":
        return [_detect(model, torch.from_numpy(sample.image).to(device), amp) for sample in samples]
    if settings.task == "segmentation":
        maps = []
        for sample in samples:
            logits = _segment(settings, model, torch.from_numpy(sample.image)[None].to(device), amp)
            maps.append(logits.argmax(dim=1)[0].to(torch.uint8).cpu().numpy())
        return maps
    probabilities: list[np.ndarray] = []
    for batch in _chunks(samples, settings.batch_size):
        images = torch.stack([torch.from_numpy(s.image) for s in batch]).to(device)
        with _autocast(device, amp):
            logits = model(images)
        probabilities.extend(_probabilities(settings, logits.float()).cpu().numpy())
    return probabilities


@torch.no_grad()
def outline(model: nn.Module, sample: Sample, min_score: float) -> np.ndarray:
    """An instance-segmenting detector's lesions scoring at least ``min_score`` as a class map (uint8: 0 background,
    k + 1 class k) on the sample's grid, each where its mask's probability is at least 0.5, the higher scores drawn
    over the lower."""
    device = next(model.parameters()).device
    model.eval()
    found = model(torch.from_numpy(sample.image)[None].to(device))[0]
    labels = np.zeros(sample.image.shape[1:], dtype=np.uint8)
    order = torch.argsort(found["scores"])  # ascending: the best drawn last
    for k in order.tolist():
        if float(found["scores"][k]) >= min_score:
            labels[(found["masks"][k] >= 0.5).cpu().numpy()] = int(found["labels"][k]) + 1
    return labels


class LocalSession:
    """One process, one device: checkpoints as ``checkpoint-<epoch>.pt`` files in ``directory`` (the latest kept)."""

    def __init__(self, directory: Path, device: torch.device | str | None = None) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.reports: list[EpochReport] = []

    @property
    def rank(self) -> int:
        return 0

    @property
    def world_size(self) -> int:
        return 1

    @property
    def device(self) -> torch.device:
        return self._device

    def prepare_model(self, model: nn.Module) -> nn.Module:
        return model.to(self._device)

    def restored(self) -> Mapping[str, Any] | None:
        checkpoints = self._checkpoints()
        if not checkpoints:
            return None
        state: Mapping[str, Any] = torch.load(checkpoints[-1], map_location="cpu", weights_only=True)
        return state

    def progress(self, epoch: int, step: int, steps: int, loss: float, samples_per_second: float) -> None:
        logger.debug("epoch %d step %d/%d loss %.4f (%.1f samples/s)", epoch, step, steps, loss, samples_per_second)

    def end_epoch(self, report: EpochReport, state: Mapping[str, Any] | None, best: bool) -> None:
        self.reports.append(report)
        logger.info(
            "epoch %d loss %.4f %s%s", report.epoch, report.train_loss, report.metrics, " (best)" if best else ""
        )
        if state is None:
            return
        older = self._checkpoints()
        handle, scratch = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        os.close(handle)
        torch.save(dict(state), scratch)
        os.replace(scratch, self.directory / f"checkpoint-{report.epoch:05d}.pt")
        for path in older:
            if path.name != f"checkpoint-{report.epoch:05d}.pt":
                path.unlink(missing_ok=True)

    def _checkpoints(self) -> list[Path]:
        return sorted(self.directory.glob("checkpoint-*.pt"))


# --- one epoch --------------------------------------------------------------------------------------------------


class _TrainingSamples(Dataset[tuple[torch.Tensor, Any]]):
    """Training samples, augmented (segmentation and detection: cut into patches first) with seeds from (seed, epoch,
    index)."""

    def __init__(self, settings: RunSettings, samples: Sequence[Sample]) -> None:
        self.samples = samples
        self.seed = settings.seed
        self.epoch = 0
        self.augment = Augmenter(settings)
        self.patches = PatchSampler(settings) if settings.task == "segmentation" else None
        self.box_patches = BoxPatchSampler(settings) if settings.task == "detection" else None

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Any]:
        sample = self.samples[index]
        image = torch.from_numpy(sample.image)
        if self.box_patches is not None:
            instances = None if sample.instances is None else torch.from_numpy(sample.instances.astype(np.int32))
            seed = sample_seed(self.seed, self.epoch, index)
            found = self.box_patches(image, sample.target, seed, instances)
            stacked = torch.stack([patch for patch, _, _ in found])
            return stacked, [(torch.from_numpy(boxes), masks) for _, boxes, masks in found]
        target = torch.from_numpy(np.asarray(sample.target))
        if self.patches is None:
            image, _ = self.augment(image, None, sample_seed(self.seed, self.epoch, index))
            return image, target
        patches = self.patches(image, target, sample_seed(self.seed, self.epoch, index))
        augmented = [
            self.augment(patch, mask, sample_seed(self.seed, self.epoch, index, part))
            for part, (patch, mask) in enumerate(patches, start=1)
        ]
        return torch.stack([a[0] for a in augmented]), torch.stack([a[1] for a in augmented])


def _patch_batch(items: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.cat([images for images, _ in items]), torch.cat([masks for _, masks in items])


BoxedPatch = tuple[torch.Tensor, torch.Tensor | None]  # a patch's (N, 2d + 1) boxes and classes, and their masks


def _box_batch(items: list[tuple[torch.Tensor, list[BoxedPatch]]]) -> tuple[torch.Tensor, list[BoxedPatch]]:
    return torch.cat([images for images, _ in items]), [boxed for _, patches in items for boxed in patches]


def _detection_targets(patches: Sequence[BoxedPatch], device: torch.device) -> list[dict[str, torch.Tensor]]:
    """(N, 2d + 1) boxes and classes, and the lesions' masks (Mask R-CNN), as the detectors take them."""
    targets = []
    for boxes, masks in patches:
        corners = boxes.shape[1] - 1
        target = {"boxes": boxes[:, :corners].float().to(device), "labels": boxes[:, corners].long().to(device)}
        if masks is not None:
            target["masks"] = masks.to(device)
        targets.append(target)
    return targets


def _detect(model: nn.Module, image: torch.Tensor, amp: bool) -> np.ndarray:
    """One image's detections as (M, 2d + 2) float32: boxes, scores and class indices."""
    with _autocast(image.device, amp):
        found = model(image[None])[0]
    columns = [found["boxes"].float(), found["scores"].float()[:, None], found["labels"].float()[:, None]]
    return torch.cat(columns, dim=1).cpu().numpy().astype(np.float32)


def _train_epoch(
    settings: RunSettings,
    epoch: int,
    model: nn.Module,
    samples: _TrainingSamples,
    sampler: DistributedSampler[Any],
    loss_of: Loss,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    session: Session,
    loader_workers: int,
) -> tuple[float, float]:
    """Mean training loss over all workers and samples a second (all workers)."""
    device = session.device
    amp = scaler.is_enabled()
    patches = settings.task in ("segmentation", "detection")
    detection = settings.task == "detection"
    per_rank = len(sampler)
    left_over = (per_rank % settings.batch_size) * (settings.preprocessing.samples_per_volume if patches else 1)
    loader = DataLoader(
        samples,
        batch_size=settings.batch_size,
        sampler=sampler,
        num_workers=loader_workers,
        pin_memory=device.type == "cuda",
        collate_fn=_box_batch if detection else (_patch_batch if patches else None),
        drop_last=left_over == 1 and per_rank > settings.batch_size,  # a batch of one breaks batch norm
        generator=torch.Generator().manual_seed(settings.seed + epoch),
    )
    model.train()
    steps = len(loader)
    total = torch.zeros(2, dtype=torch.float64, device=device)  # loss sum, sample count
    began = reported = time.perf_counter()
    seen = 0
    for step, (images, targets) in enumerate(loader, start=1):
        images = images.to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        if detection:  # detectors compute their own losses
            with _autocast(device, amp):
                losses = model(images, _detection_targets(targets, device))
            loss = torch.stack([value.float() for value in losses.values()]).sum()
        else:
            targets = targets.to(device, non_blocking=True)
            with _autocast(device, amp):
                logits = model(images)
            loss = loss_of(logits.float(), targets)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        count = images.shape[0]
        seen += count
        total[0] += loss.detach().double() * count
        total[1] += count
        now = time.perf_counter()
        if now - reported >= PROGRESS_SECONDS or step == steps:
            reported = now
            rate = seen * session.world_size / max(now - began, 1e-9)
            session.progress(epoch, step, steps, float(loss.detach()), rate)
    seconds = time.perf_counter() - began
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(total)
    loss_sum, count = total.tolist()
    return (loss_sum / count if count else math.nan), seen * session.world_size / max(seconds, 1e-9)


@torch.no_grad()
def _validate(
    settings: RunSettings,
    network: nn.Module,
    validation: Sequence[Sample],
    loss_of: Loss,
    device: torch.device,
    amp: bool,
) -> dict[str, float]:
    """Validation metrics of the whole validation set, named ``val_*``."""
    network.eval()
    loss_sum = 0.0
    if settings.task == "detection":
        found = [_detect(network, torch.from_numpy(sample.image).to(device), amp) for sample in validation]
        return detection_scores(settings, found, [sample.target for sample in validation], "val_")
    if settings.task == "segmentation":
        dice: list[list[float]] = []
        for sample in validation:
            logits = _segment(settings, network, torch.from_numpy(sample.image)[None].to(device), amp)
            truth = torch.from_numpy(sample.target)[None].to(device)
            loss_sum += float(loss_of(logits, truth))
            predicted = logits.argmax(dim=1)[0].cpu().numpy()
            dice.append(dice_per_class(predicted, sample.target, logits.shape[1]))
        metrics = segmentation_metrics(dice)
    else:
        probabilities, targets = [], []
        for batch in _chunks(validation, settings.batch_size):
            images = torch.stack([torch.from_numpy(s.image) for s in batch]).to(device)
            truth = torch.stack([torch.from_numpy(np.asarray(s.target)) for s in batch]).to(device)
            with _autocast(device, amp):
                logits = network(images).float()
            loss_sum += float(loss_of(logits, truth)) * len(batch)
            probabilities.append(_probabilities(settings, logits).cpu().numpy())
            targets.append(truth.cpu().numpy())
        multi_label = settings.label_encoding == "multi-label"
        metrics = classification_metrics(np.concatenate(probabilities), np.concatenate(targets), multi_label)
    return {"val_loss": loss_sum / len(validation), **{f"val_{name}": value for name, value in metrics.items()}}


def detection_scores(
    settings: RunSettings, found: Sequence[np.ndarray], truths: Sequence[np.ndarray], prefix: str
) -> dict[str, float]:
    """CPM (FROC over all lesions, hits at ``detection.iou_threshold``) and mAP at IoU 0.1 and 0.5 of detections
    (M, 2d + 2) against truths (N, 2d + 1), one pair per scan; NaN where undefined (no lesion)."""
    corners = 2 * settings.spatial_dims
    pooled = [(f[:, :corners], f[:, corners], t[:, :corners]) for f, t in zip(found, truths, strict=True)]
    labelled = [
        (
            f[:, :corners],
            f[:, corners],
            f[:, corners + 1].astype(np.int64),
            t[:, :corners],
            t[:, corners].astype(np.int64),
        )
        for f, t in zip(found, truths, strict=True)
    ]
    average = mean_average_precision(labelled, MAP_IOU_THRESHOLDS)["map"]
    scores = {
        "cpm": froc(pooled, settings.detection.iou_threshold)["cpm"],
        **{f"map_iou{round(100 * t)}": average[f"{t:g}"] for t in MAP_IOU_THRESHOLDS},
    }
    return {f"{prefix}{name}": math.nan if value is None else float(value) for name, value in scores.items()}


def _segment(settings: RunSettings, model: nn.Module, image: torch.Tensor, amp: bool) -> torch.Tensor:
    """Logits of a whole volume (1, K, *spatial), patch by patch with Gaussian-weighted overlaps."""
    with _autocast(image.device, amp):
        logits = sliding_window_inference(
            image,
            roi_size=list(settings.preprocessing.shape),
            sw_batch_size=settings.batch_size * settings.preprocessing.samples_per_volume,
            predictor=model,
            overlap=0.25,
            mode="gaussian",
        )
    assert isinstance(logits, torch.Tensor)
    return torch.as_tensor(logits).float()


def _probabilities(settings: RunSettings, logits: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(logits) if settings.label_encoding == "multi-label" else torch.softmax(logits, dim=1)


def _chunks(samples: Sequence[Sample], size: int) -> Iterator[Sequence[Sample]]:
    for start in range(0, len(samples), size):
        yield samples[start : start + size]


def _autocast(device: torch.device, amp: bool) -> contextlib.AbstractContextManager[Any]:
    return torch.autocast(device.type, dtype=torch.float16) if amp else contextlib.nullcontext()


# --- optimiser, schedule, loss -----------------------------------------------------------------------------------


def _optimizer(settings: RunSettings, network: nn.Module) -> torch.optim.Optimizer:
    o = settings.optimizer
    parameters = [p for p in network.parameters() if p.requires_grad]
    if o.name == "sgd":
        return torch.optim.SGD(parameters, lr=o.learning_rate, momentum=o.momentum, weight_decay=o.weight_decay)
    if o.name == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=o.learning_rate, momentum=o.momentum, weight_decay=o.weight_decay)
    if o.name == "adam":
        return torch.optim.Adam(parameters, lr=o.learning_rate, weight_decay=o.weight_decay)
    return torch.optim.AdamW(parameters, lr=o.learning_rate, weight_decay=o.weight_decay)


class _Schedule:
    """The learning rate of each epoch: linear warm-up, then constant, cosine, step or plateau decay."""

    def __init__(self, settings: RunSettings, optimizer: torch.optim.Optimizer) -> None:
        self.s = settings.schedule
        self.epochs = settings.epochs
        self.base = settings.optimizer.learning_rate
        self.optimizer = optimizer
        self.plateau_factor = 1.0
        self.stale = 0  # validations without improvement since the last plateau decay

    def begin_epoch(self, epoch: int) -> float:
        warmup = self.s.warmup_epochs
        if epoch <= warmup:
            factor = epoch / (warmup + 1)
        else:
            since = epoch - warmup - 1
            if self.s.name == "cosine":
                factor = 0.5 * (1.0 + math.cos(math.pi * since / (self.epochs - warmup)))
            elif self.s.name == "step":
                factor = self.s.gamma ** (since // self.s.step_size)
            elif self.s.name == "plateau":
                factor = self.plateau_factor
            else:
                factor = 1.0
        learning_rate = self.base * factor
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate
        return learning_rate

    def end_validation(self, improved: bool) -> None:
        if self.s.name != "plateau":
            return
        self.stale = 0 if improved else self.stale + 1
        if self.stale >= self.s.step_size:
            self.plateau_factor *= self.s.gamma
            self.stale = 0

    def state_dict(self) -> dict[str, Any]:
        return {"plateau_factor": self.plateau_factor, "stale": self.stale}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.plateau_factor = float(state["plateau_factor"])
        self.stale = int(state["stale"])


def _loss(settings: RunSettings) -> Loss:
    """The run's loss of logits (B, K[, *spatial]) against targets as the samples hold them (detectors compute their
    own)."""
    name = settings.loss
    if settings.task == "detection":
        return _detector_loss
    if settings.task == "classification":
        if settings.label_encoding == "multi-label":
            multi: nn.Module = FocalLoss(use_softmax=False) if name == "focal" else nn.BCEWithLogitsLoss()
            return lambda logits, targets: multi(logits, targets.float())
        if name == "focal":
            focal = FocalLoss(to_onehot_y=True, use_softmax=True)
            return lambda logits, targets: focal(logits, targets.long()[:, None])
        entropy = nn.CrossEntropyLoss()
        return lambda logits, targets: entropy(logits, targets.long())
    if name == "cross-entropy":
        voxel_entropy = nn.CrossEntropyLoss()
        return lambda logits, masks: voxel_entropy(logits, masks.long())
    losses: dict[str, Callable[[], nn.Module]] = {
        "dice": lambda: DiceLoss(to_onehot_y=True, softmax=True),
        "dice-ce": lambda: DiceCELoss(to_onehot_y=True, softmax=True),
        "dice-focal": lambda: DiceFocalLoss(to_onehot_y=True, softmax=True),
        "focal": lambda: FocalLoss(to_onehot_y=True, use_softmax=True),
    }
    region = losses[name]()
    return lambda logits, masks: region(logits, masks.long()[:, None])


def _detector_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    raise TypeError("detectors compute their own losses")


# --- best epoch, early stopping, resumable state -----------------------------------------------------------------


@dataclass
class _Tracker:
    """The best epoch so far (by ``early_stopping.metric``), the early-stopping count and the history."""

    settings: RunSettings
    best_metric: float = math.nan
    best_epoch: int = 0
    stale: int = 0  # validations without improvement
    best_state: StateDict | None = None
    history: list[EpochReport] = field(default_factory=list)

    @property
    def should_stop(self) -> bool:
        patience = self.settings.early_stopping.patience
        return patience > 0 and self.stale >= patience

    def update(self, epoch: int, metrics: Mapping[str, float], network: nn.Module) -> bool:
        """Count one epoch's validation; True when it is the best so far."""
        if not metrics:
            return False
        value = metrics.get(self.settings.monitor, math.nan)
        delta = self.settings.early_stopping.min_delta
        if math.isnan(self.best_metric):
            improved = not math.isnan(value)
        elif self.settings.maximise:
            improved = value > self.best_metric + delta
        else:
            improved = value < self.best_metric - delta
        if improved:
            self.best_metric, self.best_epoch, self.stale = value, epoch, 0
            self.best_state = _cpu_copy(network.state_dict())
        else:
            self.stale += 1
        return improved

    def outcome(self, network: nn.Module, epochs: int) -> Outcome:
        last = self.history[-1].epoch if self.history else 0
        if self.best_state is None:  # nothing validated: the last epoch stands
            return Outcome(list(self.history), last, math.nan, _cpu_copy(network.state_dict()), False)
        return Outcome(list(self.history), self.best_epoch, self.best_metric, self.best_state, last < epochs)

    def state_dict(self) -> dict[str, Any]:
        return {
            "best_metric": self.best_metric,
            "best_epoch": self.best_epoch,
            "stale": self.stale,
            "best_state": self.best_state,
            "history": [asdict(report) for report in self.history],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.best_metric = float(state["best_metric"])
        self.best_epoch = int(state["best_epoch"])
        self.stale = int(state["stale"])
        self.best_state = state["best_state"]
        self.history = [EpochReport.from_dict(report) for report in state["history"]]


def _cpu_copy(value: Any) -> Any:
    """A detached CPU copy of a (nested) state: later training steps do not change it."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, Mapping):
        return {key: _cpu_copy(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_cpu_copy(inner) for inner in value)
    return value


def _seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _rng_state() -> dict[str, Any]:
    """Every random generator's state, in types that ``torch.load(weights_only=True)`` accepts."""
    _, key, position, has_gauss, cached = np.random.get_state(legacy=True)  # type: ignore[misc]
    assert isinstance(key, np.ndarray)
    return {
        "python": random.getstate(),
        "numpy": {"key": key.tolist(), "position": int(position), "has_gauss": int(has_gauss), "cached": float(cached)},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
    }


def _set_rng_state(state: Mapping[str, Any]) -> None:
    random.setstate(state["python"])
    n = state["numpy"]
    np.random.set_state(("MT19937", np.asarray(n["key"], dtype=np.uint32), n["position"], n["has_gauss"], n["cached"]))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


@contextlib.contextmanager
def _deterministic_on_cpu(device: torch.device) -> Iterator[None]:
    """Deterministic kernels for a CPU run (GPU runs keep the fast ones), restored afterwards."""
    if device.type != "cpu":
        yield
        return
    enabled = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
