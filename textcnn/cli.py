"""The ``textcnn`` command: LightningCLI's ``fit | validate | test | predict`` with YAML
configs, plus ``export``, ``classify``, ``demo`` and the streaming ``predict --bundle``.

    textcnn fit --config configs/mr.yaml
    textcnn export --ckpt runs/mr/.../best.ckpt --out bundles/mr [--format onnx]
    textcnn predict --bundle bundles/mr --input texts.csv --output preds.csv
    textcnn demo
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import difflib
import heapq
import importlib.util
import io
import itertools
import json
import logging
import os
import re
import shutil
import stat
import sys
import time
import warnings
from pathlib import Path
from typing import Iterator, Optional, Sequence

import torch
import yaml
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import (
    BasePredictionWriter, Callback, EarlyStopping, ModelCheckpoint, ProgressBar, RichProgressBar, TQDMProgressBar,
)
from lightning.pytorch.callbacks.progress.rich_progress import _RICH_AVAILABLE
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.plugins.io import CheckpointIO
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.exceptions import SIGTERMException

from .checkpoint_io import AtomicCheckpointIO, checkpoint_header
from .fileio import (Terminated, checkpoint_not_there, mode_for, naming, not_writable, remove_stale_temps,
                     sigterm_raises_terminated)
from .hints import HintingArgumentParser, close_names, did_you_mean
from .data import DataError, TextDataModule, _shown
from .embeddings import VectorsError
from .export import BundleError, export_checkpoint
from .module import LOGGED_METRICS, TextCNNModule
from .predict import _STDIO_NAMES, STDIO, _output, _write_output, is_stream
from .text import min_padded_len

__all__ = ["TextCNNCLI", "Checkpoint", "EpochSummary", "PredictionWriter", "main"]

log = logging.getLogger("textcnn")

# Errors caused by what the user gave (files, settings): printed as one line, no traceback.
# argparse.ArgumentError: a bad option or config value (jsonargparse raises it with exit_on_error=False).
# OSError: a file or folder that cannot be read or written (permissions, a full disk, ...)
USER_ERRORS = (DataError, VectorsError, BundleError, FloatingPointError, ValueError, OSError,
               argparse.ArgumentError, MisconfigurationException)  # the last: e.g. a GPU asked for, none there


LIGHTNING_COMMANDS = ("fit", "validate", "test", "predict")  # LightningCLI's; textcnn's own: EXTRA_COMMANDS


class Checkpoint(ModelCheckpoint):
    """Keeps the best checkpoint by dev accuracy (``--checkpoint.monitor``) and ``last.ckpt``.

    A ``ModelCheckpoint`` that breaks ties on the monitored metric by a second one, and whose
    ``last.ckpt`` follows every save interval (each epoch by default).

    Ties: on a small dev set several epochs often share the best accuracy (every epoch at 100%,
    say); ModelCheckpoint keeps the first of them, the least trained. Here an epoch that equals
    the kept one and has a lower ``tie_break`` (default ``val/loss``) replaces it.

    Lightning 2.6 refreshes ``last.ckpt`` only when a top-k checkpoint is written at the same
    step, so after the best epoch it goes stale and a run resumed from it would redo epochs.

    Names: ``filename`` may use ``{epoch_number}``, the epoch counted from 1 as the epoch lines
    print it (Lightning's ``{epoch}`` counts from 0); the metric names Lightning inserts read
    ``val_acc=0.812``, not ``val/acc=`` (a folder). Unset, the best checkpoint is named
    ``best-epochNN-<metric><value>`` after the monitored metric: ``best-epoch07-acc0.8120``,
    ``best-epoch07-macro_f1_0.7930``.

    Args:
        tie_break: metric (lower is better) that decides between epochs with equal
            ``monitor`` values; None keeps the first of them, as ModelCheckpoint does.
    """

    def __init__(self, *args, tie_break: Optional[str] = "val/loss", **kwargs):
        super().__init__(*args, **kwargs)
        if self.monitor and self.monitor.rsplit("/", 1)[-1].endswith("loss") and self.mode == "max":
            raise ValueError(f"--checkpoint.monitor {self.monitor} is better when lower, but --checkpoint.mode is max, "
                             "which would keep the epoch with the highest loss; add --checkpoint.mode min")
        if self.filename is None and self.monitor:
            metric = self.monitor.rsplit("/", 1)[-1]
            metric += "_" if metric[-1].isdigit() else ""  # macro_f1_0.9185, not macro_f10.9185
            self.filename = f"best-epoch{{epoch_number:02d}}-{metric}{{{self.monitor}:.4f}}"
            self.auto_insert_metric_name = False
        elif self.filename and self.auto_insert_metric_name:
            # Lightning would insert "val/acc=": a folder per value. Insert "val_acc=" instead.
            self.filename = re.sub(r"\{([^{}:]+)(:[^{}]*)?\}",
                                   lambda m: f"{m[1].replace('/', '_')}={{{m[1]}{m[2] or ''}}}", self.filename)
            self.auto_insert_metric_name = False
        self.tie_break = tie_break
        self._tie_values: dict[str, float] = {}  # checkpoint path -> its tie_break value

    def format_checkpoint_name(self, metrics, filename=None, ver=None, prefix=None) -> str:
        if "epoch" in metrics:
            metrics = {**metrics, "epoch_number": metrics["epoch"] + 1}
        return super().format_checkpoint_name(metrics, filename, ver=ver, prefix=prefix)

    def _tie_value(self, trainer) -> Optional[float]:
        if not self.tie_break or self.tie_break == self.monitor:
            return None
        value = trainer.callback_metrics.get(self.tie_break)
        return None if value is None else float(value)

    def check_monitor_top_k(self, trainer, current=None) -> bool:
        if super().check_monitor_top_k(trainer, current):
            return True
        if current is None or self.kth_best_model_path not in self.best_k_models:
            return False
        kth = self.best_k_models[self.kth_best_model_path]
        value, kept = self._tie_value(trainer), self._tie_values.get(self.kth_best_model_path)
        better = bool(current == kth) and value is not None and kept is not None and value < kept
        return trainer.strategy.reduce_boolean_decision(better)

    def _update_best_and_save(self, current, trainer, monitor_candidates) -> None:
        before = set(self.best_k_models)
        super()._update_best_and_save(current, trainer, monitor_candidates)
        value = self._tie_value(trainer)
        for path in set(self.best_k_models) - before:
            if value is not None:
                self._tie_values[path] = value
        self._tie_values = {p: v for p, v in self._tie_values.items() if p in self.best_k_models}
        if self._tie_values:  # among equal scores the lower tie_break value is the better
            sign = 1 if self.mode == "max" else -1

            def rank(path):
                return sign * float(self.best_k_models[path]), -self._tie_values.get(path, float("inf"))

            self.best_model_path = max(self.best_k_models, key=rank)
            self.best_model_score = self.best_k_models[self.best_model_path]
            if len(self.best_k_models) == self.save_top_k:
                self.kth_best_model_path = min(self.best_k_models, key=rank)
                self.kth_value = self.best_k_models[self.kth_best_model_path]

    def state_dict(self) -> dict:
        return {**super().state_dict(), "tie_values": dict(self._tie_values)}

    def load_state_dict(self, state_dict: dict) -> None:
        then = state_dict.get("dirpath")
        if then and self.dirpath and then != self.dirpath and self._same_run(then, state_dict):
            state_dict = self._moved(state_dict, then, self.dirpath)
        super().load_state_dict(state_dict)
        self._tie_values = dict(state_dict.get("tie_values", {}))

    def _same_run(self, then: str, state_dict: dict) -> bool:
        """Is the folder the checkpoint was written in this one, spelled otherwise (relative,
        through a link) or moved here with its checkpoints? Lightning compares the two as strings
        and, when they differ, forgets the best dev score so far: the next epoch would be called
        the best, and tested, however much worse."""
        if os.path.realpath(then) == os.path.realpath(self.dirpath):
            return True
        kept = [state_dict.get("best_model_path"), *state_dict.get("best_k_models", {})]
        return any(kept) and all((Path(self.dirpath) / Path(p).name).is_file() for p in kept if p)

    @staticmethod
    def _moved(state_dict: dict, then: str, now: str) -> dict:
        """``state_dict`` with the paths of its checkpoints in the folder ``now``."""
        def here(path):
            return str(Path(now) / Path(path).name) if path and Path(path).parent == Path(then) else path

        return {**state_dict, "dirpath": now,
                **{k: here(state_dict[k]) for k in ("best_model_path", "kth_best_model_path", "last_model_path")
                   if k in state_dict},
                "best_k_models": {here(p): v for p, v in state_dict.get("best_k_models", {}).items()},
                "tie_values": {here(p): v for p, v in state_dict.get("tie_values", {}).items()}}

    def on_train_end(self, trainer, pl_module) -> None:
        if not trainer.fast_dev_run:  # Lightning 2.6 saves last.ckpt here even in a fast_dev_run, which saves nothing
            super().on_train_end(trainer, pl_module)

    def _save_topk_checkpoint(self, trainer, monitor_candidates) -> None:
        super()._save_topk_checkpoint(trainer, monitor_candidates)
        if self.save_last:
            # Lightning saves last.ckpt right after this when the step counts as saved.
            self._last_global_step_saved = trainer.global_step


class EpochSummary(Callback):
    """Prints one line per epoch: losses, dev accuracy and seconds of training.

    The line has the train loss, dev loss and accuracy (and the checkpoint's monitored metric
    when it is another). The seconds cover the training batches only (not validation), are
    logged as ``train/epoch_seconds`` and kept in ``seconds`` (one entry per epoch, for benchmarks).

    Args:
        enabled: print the line (false: nothing is printed; the seconds are still logged).
    """

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.seconds: list[float] = []
        self._start = 0.0
        self._train_seconds = 0.0
        self._validated_epoch: Optional[int] = None  # the last epoch whose dev figures were computed

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        # Lightning runs validation before this hook, so time it out of the count.
        self._train_seconds = time.perf_counter() - self._start - getattr(self, "_val_seconds", 0.0)
        self._val_seconds = 0.0
        self.seconds.append(self._train_seconds)
        if hasattr(pl_module, "log_train_epoch"):  # this epoch's loss: the module's hook runs after this one
            pl_module.log_train_epoch()
        pl_module.log("train/epoch_seconds", self._train_seconds, sync_dist=True, reduce_fx="max")  # the slowest process
        if not self.enabled or not trainer.is_global_zero:
            return
        m = trainer.callback_metrics
        parts = [f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}"]
        monitored = getattr(trainer.checkpoint_callback, "monitor", None)  # shown when it is another metric
        # an epoch without validation (check_val_every_n_epoch) shows no dev figures: those are an earlier epoch's
        validated = self._validated_epoch == trainer.current_epoch
        for key in dict.fromkeys(("train/loss_epoch", "val/loss", "val/acc", monitored or "val/acc")):
            if key in m and (validated or not key.startswith("val/")):
                parts.append(f"{key.replace('_epoch', '')} {float(m[key]):.4f}")
        parts.append(f"{self._train_seconds:.1f} s")
        print("  ".join(parts), flush=True)

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        self._val_start = time.perf_counter()

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        # a fit's own validation (trainer.training is False during it: its stage is validating)
        if not trainer.sanity_checking and trainer.state.fn == TrainerFn.FITTING:
            self._val_seconds = getattr(self, "_val_seconds", 0.0) + time.perf_counter() - self._val_start
            self._validated_epoch = trainer.current_epoch


class _NoVersion:
    """Leaves Lightning's ``v_num`` (the logger's version, shown as ``v_num: 0.000``) out of the
    bar's metrics: the run folder names the version."""

    def get_metrics(self, trainer, pl_module):
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)
        return metrics


class _RichEpochBar(_NoVersion, RichProgressBar):
    def _get_train_description(self, current_epoch: int) -> str:
        text = f"Epoch {current_epoch + 1}"
        if self.trainer.max_epochs is not None and self.trainer.max_epochs > 0:
            text += f"/{self.trainer.max_epochs}"
        return f"{text:{len(self.validation_description)}}"  # as wide as "Validation": no flicker


class _EpochFromOne:
    """The trainer as a progress bar sees it, with ``current_epoch`` counted from 1."""

    def __init__(self, trainer):
        self._trainer = trainer

    def __getattr__(self, name):
        return getattr(self._trainer, name)

    @property
    def current_epoch(self) -> int:
        return self._trainer.current_epoch + 1


class _TQDMEpochBar(_NoVersion, TQDMProgressBar):
    # Lightning's bar writes "Epoch {trainer.current_epoch}" and draws it at once, so renaming it
    # afterwards showed "Epoch 0" for an instant; it is handed the count from 1 instead.
    def on_train_epoch_start(self, trainer, *args) -> None:
        super().on_train_epoch_start(_EpochFromOne(trainer), *args)


def epoch_progress_bar() -> ProgressBar:
    """Lightning's own progress bar (rich when installed), with epochs counted from 1 as the
    epoch lines and the checkpoint names count them (Lightning's bar counts from 0)."""
    return _RichEpochBar() if _RICH_AVAILABLE else _TQDMEpochBar()


class PredictionWriter(BasePredictionWriter):
    """Writes ``line, text, label, p(label_1), ...`` CSV rows; the file appears when complete.

    ``line``: where the text starts in the input file, as ``textcnn predict --bundle`` writes it.
    The rows go to a hidden file beside the output, renamed into place at the end: an
    interrupted run leaves no half-written predictions (``-``, ``/dev/stdout`` and named pipes
    are written as the rows come). Under DDP each process writes its own share and the first
    merges them in input order into the one output; where the processes do not share the folder
    (machines without a common file system), each keeps its share as ``NAME.rankR.csv``.

    Args:
        output_path: the CSV file to write (``.csv``, or no extension); ``-`` for standard
            output. Default: ``predictions.csv`` in the trainer's ``default_root_dir``. For
            JSONL, ``textcnn predict --bundle`` with an exported bundle.
    """

    def __init__(self, output_path: Optional[str] = None):
        suffix = Path(str(output_path)).suffix.lower() if output_path else ""
        if suffix and suffix != ".csv" and str(output_path) not in (STDIO, *_STDIO_NAMES):
            raise ValueError(f"--prediction_writer.output_path {output_path}: the predictions are CSV; name the file "
                             ".csv (JSONL: export a bundle and use `textcnn predict --bundle B --input IN --output "
                             "OUT.jsonl`)")
        super().__init__(write_interval="batch")
        self.output_path = output_path
        self._file = None
        self._writer = None
        self._part: Optional[Path] = None
        self._stdout = None  # the _output of a run writing a stream as it goes

    @property
    def to_stdout(self) -> bool:
        return str(self.output_path) in (STDIO, *_STDIO_NAMES)

    def _path(self, trainer) -> str:
        path = str(self.output_path or Path(trainer.default_root_dir) / "predictions.csv")
        if path in _STDIO_NAMES:
            return STDIO
        return os.path.realpath(path) if os.path.islink(path) else path  # a link's target is written, not the link

    def on_predict_start(self, trainer, pl_module) -> None:
        path = self._path(trainer)
        stream = is_stream(path)
        if os.path.isdir(path):
            raise ValueError(f"{path}: is a folder; give --prediction_writer.output_path a file name (e.g. preds.csv)")
        source = getattr(trainer.datamodule, "hparams", {}).get("predict_path")
        if source and not stream and os.path.exists(path) and os.path.samefile(path, source):
            raise ValueError(f"{path}: the predictions would overwrite the texts read from it; give another "
                             "--prediction_writer.output_path")
        header = ["line", "text", "label", *(f"p_{name}" for name in pl_module.data_meta["labels"])]
        if stream and trainer.world_size == 1:
            self._stdout = _output(path)
            self._file = self._stdout.__enter__()
        else:
            folder = Path(trainer.default_root_dir) if stream else Path(path).parent
            name = "predictions.csv" if path == STDIO else Path(path).name
            why = not_writable(folder / name, probe=False)
            if why:  # mkdir would say "File exists" of it
                raise ValueError(f"{path}: {why}; give --prediction_writer.output_path another file")
            folder.mkdir(parents=True, exist_ok=True)
            remove_stale_temps(folder / name)
            pid = trainer.strategy.broadcast(os.getpid())  # the first process's names every share: it finds them
            part = folder / f".{name}.{pid}.rank{trainer.global_rank}-of-{trainer.world_size}.part"
            self._file = naming(path, lambda: open(part, "w", newline="", encoding="utf-8"))
            self._part = part
        self._writer = csv.writer(self._file)
        self._writer.writerow(header)

    def write_on_batch_end(self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx):
        labels = pl_module.data_meta["labels"]
        texts = trainer.datamodule.texts["predict"]
        lines = getattr(trainer.datamodule, "lines", {}).get("predict") or range(2, len(texts) + 2)
        for i, probs in zip(prediction["index"].tolist(), prediction["probs"].tolist()):
            best = max(range(len(probs)), key=probs.__getitem__)
            self._writer.writerow([lines[i], texts[i], labels[best], *(f"{p:.6f}" for p in probs)])

    def _close(self) -> None:
        if self._stdout is not None:
            self._stdout.__exit__(None, None, None)
        elif self._file is not None:
            self._file.close()
        self._file = self._stdout = None

    def on_predict_end(self, trainer, pl_module) -> None:
        if self._file is None:
            return
        self._close()
        path, part = self._path(trainer), self._part
        said = sys.stderr if path == STDIO else sys.stdout  # not into the predictions
        if part is None:  # a stream, written as the rows came
            print(f"predictions written to {'standard output' if path == STDIO else path}", file=said)
        elif trainer.world_size == 1:
            os.chmod(part, mode_for(path))
            naming(path, lambda: os.replace(part, path))
            self._part = None
            print(f"predictions written to {path}")
        else:
            self._gather(trainer, path, part, said)

    @staticmethod
    def _shares(part: Path, world_size: int) -> list[Path]:
        """Every process's share, from the name of one (they differ only in the rank)."""
        mine = re.search(r"\.rank(\d+)-of-\d+\.part$", part.name)
        return [part.with_name(part.name[:mine.start()] + f".rank{r}-of-{world_size}.part") for r in range(world_size)]

    def _gather(self, trainer, path: str, part: Path, said) -> None:
        """Under DDP: the first process merges every process's share into ``path``, in input
        order; without a folder they all share, each keeps its own, in plain sight. Every
        process learns how it went (a failure of the merge on the first would otherwise leave
        the others waiting for it, then failing with a broken connection)."""
        trainer.strategy.barrier("predictions")
        outcome, error = "apart", None
        if trainer.is_global_zero:
            parts = self._shares(part, trainer.world_size)
            if all(p.is_file() for p in parts):
                try:
                    rows = _merge_prediction_parts(parts, path)
                    outcome = "merged"
                except Exception as e:  # a full disk, a folder gone: said after the others know
                    outcome, error = "failed", e
        outcome = trainer.strategy.broadcast(outcome)
        if outcome == "apart":
            target = Path("predictions.csv" if is_stream(path) else path)
            mine = target.with_name(f"{target.stem}.rank{trainer.global_rank}{target.suffix}")
            os.replace(part, mine)
            self._part = None
            print(f"predictions of process {trainer.global_rank} written to {mine} (the processes do not share "
                  f"{part.parent}, so no one file holds them all)", file=said)
            return
        part.unlink(missing_ok=True)  # merged into the output, or not to be: gone either way
        self._part = None
        if error is not None:
            raise error
        if outcome == "merged" and trainer.is_global_zero:
            print(f"predictions written to {'standard output' if path == STDIO else path} ({rows} texts, "
                  f"from {trainer.world_size} processes)", file=said)

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        """An interrupted or failed run leaves no part of a predictions file: each process
        removes its share, and the first all of them (a process killed outright cannot)."""
        self._close()
        if self._part is not None:
            shares = self._shares(self._part, trainer.world_size) if trainer.is_global_zero else [self._part]
            for share in shares:
                share.unlink(missing_ok=True)
            self._part = None


def _merge_prediction_parts(parts: Sequence[Path], path: str) -> int:
    """Merge the processes' prediction files (each in input order) into ``path`` in input order
    (a file through a temporary and a rename, a stream as it goes); the number of rows."""
    count = 0

    def rows(part: Path) -> Iterator[list[str]]:
        with open(part, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            next(reader, None)  # the header
            yield from reader

    def write(out) -> None:
        nonlocal count
        writer = csv.writer(out)
        with open(parts[0], newline="", encoding="utf-8") as f:
            writer.writerow(next(csv.reader(f)))
        for row in heapq.merge(*(rows(p) for p in parts), key=lambda row: int(row[0])):
            writer.writerow(row)
            count += 1

    _write_output(path, write)
    return count


# Model options that say where outputs go, not what the model is: the command's, also with --ckpt_path.
_COMMAND_MODEL_OPTIONS = ("report_dir",)


def _plain(section) -> dict:
    """A config section (jsonargparse Namespace, or a class_path / init_args one) as a plain dict."""
    if section is None:
        return {}
    data = section.as_dict() if hasattr(section, "as_dict") else dict(section)
    return dict(data.get("init_args", data)) if isinstance(data, dict) else {}


def _newest_checkpoint(cfg, pattern: str = "best-*.ckpt") -> Optional[Path]:
    """The newest ``best-*.ckpt`` (or other ``pattern``) under the run folder of ``cfg``'s logger
    (``save_dir/name``, ``{variant}`` filled in), or ``None``."""
    try:
        logger = cfg.get("trainer", {}).get("logger")
        logger = logger[0] if isinstance(logger, list) and logger else logger
        args = getattr(logger, "init_args", None) or (logger or {}).get("init_args") or {}
        name = str(args.get("name") or "").replace("{variant}", str(cfg.get("model", {}).get("variant", "")))
        found = Path(args.get("save_dir") or ".").joinpath(name).glob(f"*/checkpoints/{pattern}")
        return max(found, key=lambda f: f.stat().st_mtime, default=None)
    except (AttributeError, TypeError, OSError):
        return None


class TextCNNCLI(LightningCLI):
    """LightningCLI that links the data's sizes into the model, keeps the best checkpoint by
    dev accuracy and tests it after ``fit``. Checkpoints are written atomically and read with
    ``weights_only=True`` (``AtomicCheckpointIO``) unless the config names another CheckpointIO."""

    def instantiate_trainer(self, **kwargs):
        plugins = self._get(self.config_init, "trainer", default={}).get("plugins")
        plugins = [] if plugins is None else list(plugins) if isinstance(plugins, (list, tuple)) else [plugins]
        if not any(isinstance(p, CheckpointIO) for p in plugins):
            kwargs["plugins"] = [*plugins, AtomicCheckpointIO()]
        trainer = self._get(self.config_init, "trainer", default={})
        writer = self._get(self.config_init, "prediction_writer", default=None)
        if self.subcommand == "predict" and isinstance(writer, PredictionWriter) and writer.to_stdout:
            kwargs["enable_progress_bar"] = False  # the bar would be drawn into the predictions
        elif trainer.get("enable_progress_bar") is not False:
            callbacks = trainer.get("callbacks")
            callbacks = [] if callbacks is None else list(callbacks) if isinstance(callbacks, (list, tuple)) \
                else [callbacks]
            if not any(isinstance(c, ProgressBar) for c in callbacks):
                kwargs["callbacks"] = [*callbacks, epoch_progress_bar()]
        trainer = super().instantiate_trainer(**kwargs)
        io = trainer.strategy.checkpoint_io
        if isinstance(io, AtomicCheckpointIO):
            # checkpoints of the first textcnn keep the best score under ModelCheckpoint's key:
            # resumed without this, the run would forget it and call its next epoch the best
            keys = {c.state_key for c in trainer.callbacks}
            twins = {"Model" + c.state_key: c.state_key for c in trainer.callbacks if type(c) is Checkpoint}
            io.callback_aliases.update({old: new for old, new in twins.items() if old not in keys})
        return trainer

    def setup_parser(self, add_subcommands, main_kwargs, subparser_kwargs) -> None:
        super().setup_parser(add_subcommands, main_kwargs, subparser_kwargs)
        if add_subcommands:
            # --config before the command is refused (`_check_command`), and --print_config there
            # prints every command's settings at once: `textcnn --help` shows the nine commands
            self.parser.usage = f"textcnn {{{','.join([*LIGHTNING_COMMANDS, *EXTRA_COMMANDS])}}} [--help] ..."
            for action in self.parser._actions:
                if {"--config", "--print_config"} & set(action.option_strings):
                    action.help = argparse.SUPPRESS

    def _prepare_subcommand_parser(self, klass, subcommand: str, **kwargs):
        parser = super()._prepare_subcommand_parser(klass, subcommand, **kwargs)
        # Lightning's help speaks of "best" / "last" and of a fit in the same process: not so here
        helps = {"fit": "a checkpoint file (.ckpt) of this fit to resume from, e.g. .../checkpoints/last.ckpt",
                 "validate": "the checkpoint file (.ckpt) to validate, e.g. .../checkpoints/best-....ckpt (required)",
                 "test": "the checkpoint file (.ckpt) to test, e.g. .../checkpoints/best-....ckpt (required)",
                 "predict": "the checkpoint file (.ckpt) to predict with, e.g. .../checkpoints/best-....ckpt "
                            "(required; a bundle folder goes to `textcnn predict --bundle`)"}
        for action in parser._actions:
            if action.dest == "ckpt_path" and subcommand in helps:
                action.help = helps[subcommand]
        return parser

    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments("data", "model.vocab_size", compute_fn=lambda dm: self._data(dm).vocab_size,
                               apply_on="instantiate")
        parser.link_arguments("data", "model.num_classes", compute_fn=lambda dm: self._data(dm).num_classes,
                               apply_on="instantiate")
        parser.link_arguments("data", "model.embed_dim", compute_fn=lambda dm: self._data(dm).embed_dim,
                               apply_on="instantiate")
        parser.link_arguments(("model.kernel_sizes", "model.conv_padding"), "data.min_len",
                              compute_fn=min_padded_len, apply_on="parse")
        parser.add_lightning_class_args(Checkpoint, "checkpoint")
        parser.set_defaults(
            {
                "checkpoint.monitor": "val/acc",
                "checkpoint.mode": "max",
                "checkpoint.save_top_k": 1,
                "checkpoint.save_last": True,
            }
        )
        helps = {  # ModelCheckpoint's own help describes Lightning's defaults, not textcnn's
            "checkpoint.dirpath": "folder of the checkpoints (default: checkpoints/ in the run's version_N folder)",
            "checkpoint.filename": "checkpoint name; may use {epoch_number} (from 1) and the logged metrics, e.g. "
                                   "'m-{epoch_number:02d}-{val/acc:.3f}' (default: best-epochNN-acc0.8120, after "
                                   "--checkpoint.monitor)",
        }
        for action in parser._actions:
            if action.dest in helps:
                action.help = helps[action.dest]
        parser.add_lightning_class_args(EpochSummary, "epoch_summary")
        parser.add_lightning_class_args(PredictionWriter, "prediction_writer")
        parser.add_argument("--test_after_fit", type=bool, default=True,
                            help="after fit, test the best checkpoint (by --checkpoint.monitor, default val/acc) "
                                 "when there is test data")

    def parse_arguments(self, parser, args) -> None:
        self._argv = list(args) if isinstance(args, (list, tuple)) else []
        try:
            super().parse_arguments(parser, args)
        except UnicodeDecodeError as e:  # an option that takes a YAML file was given another file
            given = list(args) if isinstance(args, (list, tuple)) else []
            for option, value in zip(given, given[1:]):
                if option.startswith("--") and "." not in option and Path(value).is_file():
                    try:
                        Path(value).read_text(encoding="utf-8")
                    except UnicodeDecodeError:
                        where = "; a checkpoint goes to --ckpt_path" if value.endswith(".ckpt") else ""
                        raise argparse.ArgumentError(
                            None, f"{option} {value}: not a YAML file ({e.reason} at byte {e.start}); {option} takes "
                                  f"a YAML file of its options or {option}.KEY VALUE{where}") from None
            raise
        except argparse.ArgumentError as e:
            if (in_file := _config_file_error(str(e), parser, args)) is not None:
                raise argparse.ArgumentError(None, in_file) from None
            hint = _did_you_mean(str(e), parser, args)
            if not hint:
                raise
            message = str(e)
            if (m := re.search(r"could match (.*)", message)) and m.group(1).count(",") > 3:
                message = message[:m.start(1)] + ", ".join(m.group(1).split(", ")[:3]) + ", ..."
            raise argparse.ArgumentError(None, f"{message}; {hint}") from None

    def _parse_ckpt_path(self) -> None:
        ckpt = self.config[self.config.subcommand].get("ckpt_path") if self.config.get("subcommand") else None
        if ckpt in ("best", "last", "hpc", "registry") or str(ckpt).startswith("registry:"):
            # fit resumes: from where a run stopped (last.ckpt), not from its best epoch, which would
            # roll the run back and train the later epochs again
            resume = self.config.subcommand == "fit"
            newest = _newest_checkpoint(self.config[self.config.subcommand], "last*.ckpt" if resume else "best-*.ckpt")
            raise ValueError(f"--ckpt_path {ckpt}: Lightning's name for a checkpoint of a fit in the same Python "
                             "process; from the command line give the file"
                             + (f" (the newest {'last' if resume else 'best'} of this config: {newest})" if newest else ""))
        if not ckpt and self.config.get("subcommand") in ("validate", "test", "predict"):
            # Lightning would run a model of random weights (without even the pretrained vectors)
            newest = _newest_checkpoint(self.config[self.config.subcommand])
            raise ValueError(f"textcnn {self.config.subcommand} needs --ckpt_path, the checkpoint of a trained "
                             "model (`textcnn fit` writes .../checkpoints/best-*.ckpt"
                             + (f"; the newest of this config: {newest}" if newest else "")
                             + "); a bundle folder goes to `textcnn predict --bundle`")
        if ckpt and "://" not in str(ckpt) and (why := checkpoint_not_there(ckpt)):
            raise FileNotFoundError(why)  # before the data is read (Lightning would say so after)
        given = _plain(self.config[self.config.subcommand].get("model")) if ckpt else {}
        if given:  # only what the config or the command set, not the parser's defaults
            defaults = _plain(self._subcommand_parsers[self.config.subcommand].get_defaults().get("model"))
            given = {k: v for k, v in given.items() if k not in defaults or defaults[k] != v}
        if ckpt and Path(ckpt).is_file():
            self._checkpoint_hyper_parameters(ckpt)
        if given:
            self._checkpoint_options(given)

    def _checkpoint_hyper_parameters(self, ckpt) -> None:
        """LightningCLI's ``_parse_ckpt_path``: the model section becomes the checkpoint's
        hyper-parameters. Lightning reads the whole file for them (and the trainer reads it
        again); a mapped read takes them alone."""
        hparams = dict(self._checkpoint_header(ckpt).get("hyper_parameters") or {})
        hparams.pop("_instantiator", None)
        if not hparams:
            return
        if "_class_path" in hparams:
            hparams = {"class_path": hparams.pop("_class_path"), "dict_kwargs": hparams}
        try:
            self.config = self.parser.parse_object({self.config.subcommand: {"model": hparams}}, self.config)
        except SystemExit:
            sys.stderr.write("Parsing of ckpt_path hyperparameters failed!\n")
            raise

    def _checkpoint_header(self, ckpt) -> dict:
        """The hyper-parameters, data settings and step of ``--ckpt_path``, read once (kept without
        the mapped tensors, which would hold a replaced ``last.ckpt`` on disk for the whole run)."""
        cached = getattr(self, "_header", None)
        if cached is None or cached[0] != str(ckpt):
            header = checkpoint_header(ckpt)
            self._header = cached = (str(ckpt), {key: header[key] for key in ("hyper_parameters", "textcnn",
                                                                            "global_step") if key in header})
        return cached[1]

    def _checkpoint_options(self, given: dict) -> None:
        """After ``--ckpt_path``'s hyper-parameters replaced the model section: where the reports
        go is the command's to say, not the checkpoint's; every other model option the config or
        the command gave differently is the checkpoint's now, and a warning says which."""
        model = self.config[self.config.subcommand].model
        kept = _plain(model)
        args = model.get("init_args", model) if hasattr(model, "get") else model
        for key in _COMMAND_MODEL_OPTIONS:
            if given.get(key) != kept.get(key) and key in given:
                args[key] = given[key]
        replaced = [f"{key} {kept[key]!r} (given: {given[key]!r})" for key in given
                    if key not in _COMMAND_MODEL_OPTIONS and key in kept and given[key] != kept[key]]
        if replaced:
            warnings.warn(f"--ckpt_path: the model keeps the checkpoint's options, not those of the config or the "
                          f"command: {', '.join(replaced)}; to train with other options, fit anew without "
                          "--ckpt_path", UserWarning, stacklevel=2)

    def _given(self, cfg, section: str, key: str) -> bool:
        """Whether the command line or one of its ``--config`` files sets ``section.key``: a value
        equal to the default, said, is given (``--data.max_len 1000`` is not the option left out)."""
        flag = f"--{section}.{key}"
        if any(a == flag or a.startswith(f"{flag}=") for a in getattr(self, "_argv", [])):
            return True
        for path in cfg.get("config") or []:
            try:
                content = yaml.safe_load(path.get_content() if hasattr(path, "get_content") else Path(path).read_text())
            except (OSError, yaml.YAMLError, UnicodeDecodeError):
                continue
            if isinstance(content, dict) and isinstance(content.get(section), dict) and key in content[section]:
                return True
        return False

    def _resumed_cap(self, cfg, ckpt) -> None:
        """A resumed fit cuts texts as the run it continues did (its checkpoints, test and bundle
        keep that run's cap): the limit left out gives way to it; another limit is refused."""
        data = (self._checkpoint_header(ckpt).get("textcnn") or {}).get("data")
        if not data or "vocab" not in data:
            return
        trained, given = data.get("max_len"), cfg["data"].get("max_len")  # none recorded: before the cap
        if given == trained:
            return
        if self._given(cfg, "data", "max_len"):
            raise ValueError(f"--data.max_len {given}: the run resumed from --ckpt_path "
                             f"{f'cut texts to {trained} tokens' if trained else 'did not cut texts'}; resume with "
                             "its limit (leave --data.max_len out), or fit anew without --ckpt_path for another")
        cfg["data"]["max_len"] = trained
        log.info("data: texts cut as the resumed run cut them: %s", f"max_len {trained}" if trained else "no limit")

    def _data(self, dm):
        """The data module, told the vocabulary, labels and tokenizer of ``--ckpt_path`` first
        when validate / test / predict need no split of the training file."""
        saved = getattr(self, "_ckpt_data", None)
        if saved is not None and hasattr(dm, "use_checkpoint"):
            self._ckpt_data = None
            data, embed_dim, max_len_given = saved
            dm.use_checkpoint(data, embed_dim, stage=self.subcommand, max_len_given=max_len_given)
        return dm

    def before_instantiate_classes(self) -> None:
        cfg = self.config.get(self.subcommand, self.config) if self.subcommand else self.config
        if self.subcommand == "fit" and cfg.get("trainer", {}).get("max_epochs") == 0:
            raise ValueError("--trainer.max_epochs 0: fit needs at least one epoch (with none it would test "
                             "the untrained model)")
        model = cfg.get("model") or {}
        pooling, pool_k = model.get("pooling", "max"), model.get("pool_k", 1)
        if self.subcommand == "fit" and pool_k != 1 and str(pooling).lower() != "kmax":
            raise ValueError(f"--model.pool_k {pool_k} is the k of kmax pooling; with --model.pooling {pooling} it "
                             "would be ignored: add --model.pooling kmax, or leave --model.pool_k out")
        strategy = cfg.get("trainer", {}).get("strategy")
        if isinstance(strategy, str) and "spawn" in strategy:
            raise ValueError(f"--trainer.strategy {strategy}: the textcnn command cannot hand its objects to spawned "
                             "processes; use --trainer.strategy ddp (Lightning starts the processes itself, "
                             "the same training)")
        ckpt = cfg.get("ckpt_path")
        if self.subcommand == "fit" and ckpt and Path(ckpt).is_file():
            self._resumed_cap(cfg, ckpt)
        if self.subcommand in ("validate", "test", "predict") and ckpt and Path(ckpt).is_file():
            state = self._checkpoint_header(ckpt)
            data = (state.get("textcnn") or {}).get("data")
            embed_dim = (state.get("hyper_parameters") or {}).get("embed_dim")
            if data and embed_dim:
                self._ckpt_data = (data, embed_dim, self._given(cfg, "data", "max_len"))
        logger = cfg.get("trainer", {}).get("logger")
        logger = logger[0] if isinstance(logger, list) and logger else logger
        args = getattr(logger, "init_args", None)
        if args is None or not isinstance(args.get("name"), str):
            return
        # Configs name the run folder "{variant}", so that --model.variant static writes to
        # runs/mr/static/ and not to the folder of the config's own variant.
        args.name = args.name.replace("{variant}", str(cfg.get("model", {}).get("variant", "")))
        if self.subcommand == "fit" and cfg.get("ckpt_path") and args.get("version") is None:
            self._resume_in_place(Path(cfg.ckpt_path), args)

    def _resume_in_place(self, ckpt: Path, args) -> None:
        """Resuming from runs/x/name/version_K/checkpoints/*.ckpt continues in version_K.

        In a new version folder the checkpoint callback would forget the best dev accuracy so
        far (Lightning keeps it only when the folder is the same), call the first epoch after
        the restart the best and test that one."""
        run = ckpt.resolve().parent.parent
        if ckpt.parent.name != "checkpoints" or not run.name.startswith("version_"):
            return
        if run.parent != (Path(args.save_dir) / args.name).resolve():
            return
        version = run.name[len("version_"):]
        args.version = int(version) if version.isdigit() else version
        # The run's config.yaml stays the one it started with; each resume's goes beside it.
        n = next(i for i in itertools.count(1) if not (run / f"config-resume-{i}.yaml").exists())
        self.save_config_kwargs = {**self.save_config_kwargs, "config_filename": f"config-resume-{n}.yaml"}
        # Lightning's warnings about reusing a folder do not apply: this is the same run going on.
        warnings.filterwarnings("ignore", message=r"(Experiment logs|Checkpoint) directory .* exists and is not empty")
        metrics = run / "metrics.csv"
        if metrics.is_file():  # CSVLogger deletes the file of a folder it opens again: keep its rows
            # up to the checkpoint's step; later ones (an epoch cut short) are logged again, and the
            # test of the earlier run's end is not kept: the resumed run tests its own best
            step = self._checkpoint_header(ckpt).get("global_step", float("inf"))
            with open(metrics, newline="", encoding="utf-8") as f:
                self._earlier_rows = [{k: v for k, v in row.items() if v != ""} for row in csv.DictReader(f)
                                      if (not row.get("step", "").isdigit() or int(row["step"]) <= step)
                                      and not any(k.startswith("test/") and v != "" for k, v in row.items())]

    def before_fit(self) -> None:
        for callback in self.trainer.callbacks:
            # a misspelt monitor: Lightning's checkpoint says so after the first epoch, its early
            # stopping with a traceback; say it before any training
            monitor = getattr(callback, "monitor", None)
            if isinstance(callback, (ModelCheckpoint, EarlyStopping)) and monitor and monitor not in LOGGED_METRICS:
                close = close_names(monitor, LOGGED_METRICS)
                raise ValueError(f"{type(callback).__name__} monitors {monitor!r}, which textcnn does not log"
                                 + (f" (did you mean {' or '.join(close)}?)" if close else "")
                                 + f"; it logs {', '.join(LOGGED_METRICS)}")
        rows = getattr(self, "_earlier_rows", None)
        if rows and self.trainer.is_global_zero:
            writer = self.trainer.logger.experiment
            if hasattr(writer, "metrics_file_path"):
                writer.metrics[:0] = rows

    def _run_subcommand(self, subcommand: str) -> None:
        # fit stops at the next batch (Lightning's SIGTERMException) with a checkpoint to resume
        # from. validate, test and predict have nothing to keep, and Lightning would run predict,
        # and the last batch of the others, to the end, writing the file, and exit 0: stop at once.
        stopping = contextlib.nullcontext() if subcommand == "fit" else sigterm_raises_terminated()
        try:
            with stopping:
                super()._run_subcommand(subcommand)
            _close_process_group()
        except BaseException as e:
            self._remove_empty_run_dir()
            self._remove_untrained_resume_config(subcommand)
            if isinstance(e, (SIGTERMException, Terminated)):
                # (fit) Lightning stops at the next batch and raises SystemExit with no code: exit 0, as
                # if the run had finished. Say where it stopped and exit 143, as a killed process does.
                self._say_stopped(subcommand, "SIGTERM")
                raise SystemExit(143) from None
            if isinstance(e, SystemExit) and isinstance(e.__context__, KeyboardInterrupt):
                # Ctrl-C during training: Lightning shuts down and exits 1, as if the run had failed.
                self._say_stopped(subcommand, "Ctrl-C")
                raise SystemExit(130) from None
            raise

    def _remove_untrained_resume_config(self, subcommand: str) -> None:
        """A resume that failed before training a step leaves no ``config-resume-N.yaml`` (the
        next attempt would be N + 1, and the folder would list resumes that never ran)."""
        name = str(self.save_config_kwargs.get("config_filename", ""))
        trainer, model = getattr(self, "trainer", None), getattr(self, "model", None)
        if subcommand != "fit" or not name.startswith("config-resume-") or trainer is None or \
                getattr(model, "steps_trained", 1) or not trainer.is_global_zero:
            return
        log_dir = getattr(trainer.logger, "log_dir", None) if trainer.logger else None  # not collective
        if log_dir:
            Path(log_dir, name).unlink(missing_ok=True)

    def _say_stopped(self, subcommand: str, how: str) -> None:
        trainer = getattr(self, "trainer", None)
        if trainer is not None and not trainer.is_global_zero:
            return
        ckpt = trainer.checkpoint_callback if trainer is not None else None
        last = getattr(ckpt, "last_model_path", "") if subcommand == "fit" else ""
        resume = f"; resume with the same command plus --ckpt_path {last}" if last and Path(last).is_file() else ""
        best = getattr(ckpt, "best_model_path", "") if subcommand == "fit" else ""
        if trainer is not None and trainer.testing and best and Path(best).is_file():
            # training was over: what was stopped is the test of its best checkpoint
            print(f"textcnn: fit stopped by {how} while testing, after training ended; test the best checkpoint "
                  f"with: textcnn test --config ... --ckpt_path {best}", file=sys.stderr, flush=True)
            return
        print(f"textcnn: {subcommand} stopped by {how}{resume}", file=sys.stderr, flush=True)

    def _remove_empty_run_dir(self) -> None:
        """After a failure, delete the run folder if it holds no checkpoint, only the saved config
        and logs, so that it cannot be mistaken for a result."""
        trainer = getattr(self, "trainer", None)
        # the logger's folder, not trainer.log_dir: that one is a collective call under DDP
        log_dir = getattr(trainer.logger, "log_dir", None) if trainer is not None and trainer.logger else None
        if not log_dir or not trainer.is_global_zero:
            return
        run = Path(log_dir)
        files = [f for f in run.rglob("*") if f.is_file()] if run.is_dir() else []
        if run.is_dir() and all(f.name in ("config.yaml", "hparams.yaml", "metrics.csv") or
                                f.name.startswith("events.out.tfevents") for f in files):
            shutil.rmtree(run, ignore_errors=True)

    def after_fit(self) -> None:
        cfg = self.config.get(self.subcommand, self.config)
        if self.trainer.interrupted:
            return
        ckpt = self.trainer.checkpoint_callback
        best = ckpt.best_model_path if ckpt is not None else ""
        if best and self.trainer.is_global_zero:
            score = ckpt.best_model_score
            print(f"best checkpoint ({ckpt.monitor} {float(score):.4f}): {best}" if score is not None
                  else f"best checkpoint: {best}")
        if "test" not in self.datamodule.splits:
            if self.trainer.is_global_zero:
                print("no test data, so nothing was tested: give --data.test_path or --data.test_fraction "
                      "(a share of the training file held out) for a test report")
            return
        if not cfg.get("test_after_fit", True):
            return
        if not best and self.trainer.is_global_zero:
            print("no best checkpoint was kept (no dev evaluation, --checkpoint.save_top_k 0, or checkpointing "
                  "off): testing the weights of the last epoch trained, not the best by dev")
        if best and self.trainer.world_size > 1:
            # Lightning loads the best checkpoint on every process; only the first wrote it
            here = torch.tensor(int(Path(best).is_file()), device=self.trainer.strategy.root_device)
            if int(self.trainer.strategy.reduce(here, reduce_op="sum")) < self.trainer.world_size:
                if self.trainer.is_global_zero:
                    print(f"not tested: the best checkpoint {best} is not in a folder every process can read (machines "
                          "without a shared file system); test it on this machine: textcnn test --config ... "
                          f"--ckpt_path {best}")
                return
        self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=best or None)


def _export_main(argv: Sequence[str]) -> int:
    try:
        # SIGTERM raises, so that the bundle's temporary folder is removed (save_bundle) rather than left
        # beside it, the size of the bundle, until an export of the same name ten minutes later
        with sigterm_raises_terminated():
            return _export(argv)
    except Terminated:
        print("textcnn: export stopped by SIGTERM", file=sys.stderr, flush=True)
        return 143


def _export(argv: Sequence[str]) -> int:
    p = HintingArgumentParser(prog="textcnn export", description="Write a self-contained model bundle from a checkpoint.")
    p.add_argument("--ckpt", help="training checkpoint (.ckpt) written by `textcnn fit`")
    p.add_argument("--out", help="bundle folder to write (replaced atomically if it is a bundle)")
    p.add_argument("--metrics", help="optional JSON file of metrics to record in the bundle (e.g. test_metrics.json)")
    p.add_argument("--format", choices=("bundle", "onnx"), default="bundle",
                   help="onnx: also write model.onnx (dynamic batch and length) beside textcnn.json")
    p.add_argument("--bundle", help="with --format onnx, instead of --ckpt: add model.onnx to this existing bundle, "
                   "or to a copy of it at --out")
    args = p.parse_args(argv)
    if args.format == "onnx":  # before anything is written
        from .export import require_onnx

        require_onnx()
    if args.bundle and args.format == "onnx" and not args.ckpt:
        from .bundle import ONNX_FILE
        from .export import export_onnx, load_bundle, save_bundle

        if args.metrics:
            p.error("--metrics goes with --ckpt: a bundle keeps the metrics it was exported with, and --bundle "
                    "only adds model.onnx to it")

        if args.out and Path(args.out).resolve() != Path(args.bundle).resolve():
            # model.onnx made in the copy before it replaces a bundle at --out: a failure leaves that one whole
            target = save_bundle(args.out, *load_bundle(args.bundle), onnx=True) / ONNX_FILE
        else:
            target = export_onnx(args.bundle)
        print(f"ONNX model written to {target}")
        return 0
    if not args.ckpt or not args.out:
        p.error("--ckpt and --out are required (or --bundle DIR --format onnx)")
    if args.bundle:
        p.error("--bundle goes with --format onnx alone (model.onnx for an existing bundle); with --ckpt, "
                "--out names the bundle to write")
    metrics = None
    if args.metrics:
        if not Path(args.metrics).is_file():
            raise FileNotFoundError(f"--metrics {args.metrics}: no such file; give the test_metrics.json of the "
                                    "run (beside its checkpoints), or leave --metrics out")
        try:
            metrics = json.loads(Path(args.metrics).read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise BundleError(f"{args.metrics}: not a JSON file of metrics ({e}); give the "
                              "test_metrics.json of the run") from None
        metrics = {k: metrics[k] for k in ("accuracy", "macro_f1", "num_examples") if k in metrics}
    out = export_checkpoint(args.ckpt, args.out, metrics=metrics, onnx=args.format == "onnx")
    size = sum(f.stat().st_size for f in out.iterdir())
    print(f"bundle written to {out} ({size / 1e6:.1f} MB)")
    return 0


DEFAULT_BUNDLE = Path(__file__).resolve().parents[1] / "checkpoints" / "mr-multichannel-glove50"
EXAMPLES = [
    "A gorgeous, witty, seductive movie.",
    "The plot is thin and the acting is wooden; I was bored from start to finish.",
    "Not the best film of the year, but a charming and sincere one.",
    "An overlong, self-indulgent mess.",
]


def _piped(stream) -> bool:
    """Whether ``stream`` is a pipe or a file (``cmd | textcnn classify``, ``< texts.txt``), not a
    terminal, an empty or closed input or one inherited from a parent (cron, CI), read only for ``-``."""
    try:
        mode = os.fstat(stream.fileno()).st_mode
    except (AttributeError, OSError, ValueError):  # None, closed, or a stand-in without a descriptor
        return isinstance(stream, io.TextIOBase) and not stream.isatty() and not hasattr(stream, "buffer")
    return stat.S_ISFIFO(mode) or (stat.S_ISREG(mode) and os.fstat(stream.fileno()).st_size > 0)


def _classify_main(argv: Sequence[str]) -> int:
    p = HintingArgumentParser(prog="textcnn classify", description="Classify texts with a bundle and print "
                                "each label with the probabilities of every label.")
    p.add_argument("texts", nargs="*", help="texts to classify; - reads them from standard input, one a line, as "
                   "does no text when the input is piped (default with the bundled MR model: a few example sentences)")
    p.add_argument("--bundle", default=str(DEFAULT_BUNDLE), help="bundle folder (default: the bundled MR model)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--top-k", type=int, default=5, metavar="K",
                   help="show the K most probable labels, most probable first (default 5; --json gives every "
                   "label)")
    p.add_argument("--json", action="store_true", help="one JSON object a line: text, label and every label's "
                   "probability (for programs; labels may hold spaces)")
    args = p.parse_args(argv)
    if args.top_k < 1:
        p.error(f"--top-k must be a positive integer, got {args.top_k}")
    texts = list(args.texts)
    stream = texts == ["-"] or (not texts and _piped(sys.stdin))
    if stream and sys.stdin is None:
        p.error("- : no standard input to read")
    elif "-" in texts and not stream:
        p.error("- (standard input) stands alone: give texts or -, not both")
    elif any(not t.strip() for t in texts) and not stream:
        p.error(f"text {next(i for i, t in enumerate(texts, 1) if not t.strip())} is empty: give a text to classify")
    elif not texts and not stream:
        if Path(args.bundle).resolve() != DEFAULT_BUNDLE.resolve():
            p.error("give the texts to classify, or - to read them from standard input (one a line); the example "
                    "sentences are for the bundled MR model")
        texts = EXAMPLES
    if args.bundle == str(DEFAULT_BUNDLE) and not DEFAULT_BUNDLE.is_dir():
        p.error(f"no --bundle given, and the bundled models are not here ({DEFAULT_BUNDLE.parent}): they come with "
                "a checkout of the repository; give --bundle DIR (a folder written by `textcnn export`)")
    from .api import TextClassifier

    clf = TextClassifier.load(args.bundle, device=args.device)
    print(f"{clf!r}", file=sys.stderr)  # standard output holds one line per text
    shown, skipped = 0, []
    for batch in (_lines_as_they_come(sys.stdin, skipped=skipped) if stream else [texts]):
        for text, pred in zip(batch, clf.predict(batch)):
            if args.json:
                print(json.dumps({"text": text, "label": pred.label, "probabilities": pred.probabilities},
                                 ensure_ascii=False))
                continue
            ranked = sorted(pred.probabilities.items(), key=lambda kv: -kv[1])
            more = len(ranked) - args.top_k
            probs = "  ".join(f"{name} {p:.3f}" for name, p in ranked[:args.top_k]) + (f"  +{more} more" if more > 0 else "")
            print(f"{pred.label:<12} [{probs}]  {text}")
        sys.stdout.flush()
        shown += len(batch)
    if skipped:
        from .data import iconv_hint

        hint = iconv_hint(b"\n".join(raw for _, raw in skipped[:200])).replace("re-save the file", "re-encode the input")
        print(f"textcnn: {len(skipped)} line(s) of standard input were not UTF-8 and not classified (line(s) "
              f"{_shown([n for n, _ in skipped], 20)}): {hint}, then classify again", file=sys.stderr)
    if not shown:
        p.error("no line of standard input could be read as UTF-8" if skipped else
                "standard input held no text to classify (one a line)")
    return 0


_BREAK = re.compile(r"\r\n|\r|\n")
_BREAK_BYTES = re.compile(rb"\r\n|\r|\n")


def _lines_as_they_come(stream, most: int = 256,
                        skipped: Optional[list[tuple[int, bytes]]] = None) -> Iterator[list[str]]:
    """The non-blank lines of ``stream`` in batches: a batch ends at ``most`` lines or when no
    more input is waiting, so a live stream (``tail -f log | textcnn classify``) gets each
    answer as its line comes, and a file goes through in full batches.

    Lines end at ``\n``, ``\r\n`` or a lone ``\r``, as the readers of files have them. The
    bytes under a text stream are read, so that a line that is not UTF-8 is named on stderr with
    its number and left out (its number and bytes added to ``skipped``), whatever the locale."""
    raw = getattr(stream, "buffer", None)
    source, breaks = (raw, _BREAK_BYTES) if raw is not None else (stream, _BREAK)
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        fd = None  # a stand-in without a descriptor: everything is there

    def waiting() -> bool:
        if fd is None:
            return True
        import select

        return bool(select.select([fd], [], [], 0)[0])

    batch: list[str] = []
    number = 0
    for chunk in iter(source.readline, source.read(0)):  # up to a \n; lone \r's within it end lines too
        pieces = breaks.split(chunk)
        if not pieces[-1]:
            pieces.pop()  # the chunk ended with a line break
        for piece in pieces:
            number += 1
            if isinstance(piece, bytes):
                if number == 1 and piece.startswith(b"\xef\xbb\xbf"):
                    piece = piece[3:]
                try:
                    piece = piece.decode("utf-8")
                except UnicodeDecodeError as e:
                    print(f"textcnn: standard input, line {number}: byte 0x{piece[e.start]:02x} is not valid UTF-8; "
                          "not classified", file=sys.stderr, flush=True)
                    if skipped is not None:
                        skipped.append((number, piece))
                    continue
            if piece.strip():
                batch.append(piece)
        if batch and (len(batch) >= most or not waiting()):
            yield batch
            batch = []
    if batch:
        yield batch


def _predict_main(argv: Sequence[str]) -> int:
    from .predict import INPUT_FORMATS, OUTPUT_FORMATS, is_stream, predict_file

    p = HintingArgumentParser(prog="textcnn predict --bundle", description="Predict a file of texts of any size "
                                "with a bundle, in chunks; unreadable rows are reported with their line numbers.")
    p.add_argument("--bundle", required=True, help="bundle folder written by `textcnn export`")
    p.add_argument("--input", required=True, help="CSV / TSV (with a header) / JSONL / TXT (one text a line); "
                   "- for standard input (one text a line unless --format says otherwise)")
    p.add_argument("--output", required=True, help="CSV or JSONL: line, text, label and one probability per label; "
                   "- for standard output (CSV unless --output-format says otherwise)")
    p.add_argument("--format", choices=INPUT_FORMATS, default="auto", help="input format (default: by extension)")
    p.add_argument("--output-format", choices=OUTPUT_FORMATS, default="auto", help="default: by extension")
    p.add_argument("--text-column", default="text", help="text column (CSV / TSV) or key (JSONL)")
    p.add_argument("--keep-columns", nargs="+", default=[], metavar="NAME",
                   help="input columns (CSV / TSV) or keys (JSONL) to copy into the output after `line`, e.g. an "
                   "id or the true label (one named like an output column is written as input_NAME)")
    p.add_argument("--batch-size", type=int, default=256, help="texts per forward pass (default 256)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's, one per core); "
                   "fewer leaves cores to other work on a shared machine")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    for name, value in (("--batch-size", args.batch_size), ("--threads", args.threads)):
        if value is not None and value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value}")
    from .api import TextClassifier

    if args.threads:
        torch.set_num_threads(args.threads)

    where = "standard output" if args.output == "-" else args.output
    try:
        with sigterm_raises_terminated():  # the output's temporary is removed, as at Ctrl-C
            clf = TextClassifier.load(args.bundle, device=args.device)
            start = time.perf_counter()
            summary = predict_file(clf, args.input, args.output, format=args.format,
                                   output_format=args.output_format, text_column=args.text_column,
                                   batch_size=args.batch_size, progress=not args.no_progress,
                                   keep_columns=args.keep_columns)
    except Terminated:
        left = ("" if is_stream(args.output) else f"; {where} was not written" +
                (" (the earlier one is left as it was)" if os.path.exists(args.output) else ""))
        print(f"textcnn: predict stopped by SIGTERM{left}", file=sys.stderr, flush=True)
        return 143
    seconds = time.perf_counter() - start
    print(f"{summary.predicted} texts predicted in {seconds:.1f} s ({summary.predicted / max(seconds, 1e-9):.0f}/s), "
          f"written to {where}", file=sys.stderr if is_stream(args.output) else sys.stdout)
    def some(lines: list[int]) -> str:
        return _shown(lines, 20)

    if summary.unknown_lines:
        n = len(summary.unknown_lines)
        print(f"{n} of the {summary.predicted} texts have no token the model knows (line(s) "
              f"{some(summary.unknown_lines)}): each got the model's answer for an empty text"
              + ("; is the file in the language and script the model was trained on?"
                 if n >= summary.predicted / 2 else ""), file=sys.stderr)
    if summary.multiline_lines:
        print(f"{len(summary.multiline_lines)} of the texts span several lines (starting on line(s) "
              f"{some(summary.multiline_lines)}), each predicted as one text: a quoted text with line breaks, or, "
              "if that is not meant, a quote (\") not closed on the line it opens", file=sys.stderr)
    if summary.errors:
        print(f"{len(summary.errors)} line(s) were not predicted (blank or unreadable; line(s) "
              f"{some([e.line for e in summary.errors])})", file=sys.stderr)
        if sum("UTF-8" in e.message for e in summary.errors) > 1 and not is_stream(args.input):
            from .data import iconv_hint

            with open(args.input, "rb") as f:  # read again, a line at a time
                hint = iconv_hint(f)
            print(f"several lines are not UTF-8: {hint}; then predict again", file=sys.stderr)
    return 0 if summary.predicted else 2


def _demo_main(argv: Sequence[str]) -> int:
    prog = "python app.py" if Path(sys.argv[0]).name == "app.py" else "textcnn demo"  # app.py hands its options here
    p = HintingArgumentParser(prog=prog, description="Launch the Gradio demo (app.py) on this machine.")
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1, this machine only; "
                   "0.0.0.0 for every interface)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--checkpoints", default=None, help="a folder of bundles, or one bundle (default: the repository's "
                   "checkpoints/)")
    p.add_argument("--max-chars", type=int, default=None, help="longest text accepted (default 2000)")
    p.add_argument("--max-upload-mb", type=int, default=None, help="largest file the Batch tab takes (default 20)")
    args = p.parse_args(argv)
    for option, value in (("--max-chars", args.max_chars), ("--max-upload-mb", args.max_upload_mb)):
        if value is not None and value < 1:
            p.error(f"{option} must be at least 1, got {value}")
    if not 0 < args.port < 65536:
        p.error(f"--port must be a port number (1 to 65535), got {args.port}")
    root = Path(__file__).resolve().parents[1]
    app = root / "app.py"
    # installed from a wheel, the package's parent is site-packages: an app.py there is not ours
    if not (app.is_file() and (root / "pyproject.toml").is_file()):
        raise FileNotFoundError(f"{root}: not a checkout of textcnn; the demo is the repository's app.py, which an "
                                "installed package does not have: clone the repository and `pip install -e "
                                "\".[demo]\"` there")
    if importlib.util.find_spec("gradio") is None:
        print('textcnn: error: the demo needs gradio: pip install -e ".[demo]" (or pip install "gradio>=6.0")',
              file=sys.stderr)
        return 2
    for key, value in (("TEXTCNN_HOST", args.host), ("TEXTCNN_PORT", args.port),
                       ("TEXTCNN_CHECKPOINTS", args.checkpoints), ("TEXTCNN_MAX_CHARS", args.max_chars),
                       ("TEXTCNN_MAX_UPLOAD_MB", args.max_upload_mb)):
        if value is not None:
            os.environ[key] = str(value)
    import runpy

    # the command's INFO logging would show every HTTP request Gradio makes (as `python app.py` does not)
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    argv0 = sys.argv
    sys.argv = [str(app)]  # app.py reads options from sys.argv: they were this command's, and are in the environment now
    try:
        runpy.run_path(str(app), run_name="__main__")
    finally:
        sys.argv = argv0
    return 0


def _cv_main(argv: Sequence[str]) -> int:
    from .bench import cv_main

    return cv_main(argv)


def _bench_main(argv: Sequence[str]) -> int:
    from .bench import bench_main

    return bench_main(argv)


EXTRA_COMMANDS = {"export": _export_main, "classify": _classify_main, "demo": _demo_main, "cv": _cv_main,
                  "bench": _bench_main}


def _close_process_group() -> None:
    """After a DDP run: close the process group's connections before the interpreter exits.
    Lightning destroys NCCL's at exit but leaves gloo's, whose threads the exit then tears down;
    a process could end with "terminate called without an active exception" (SIGABRT) after
    finishing its work. Local: no collective call, so a process whose peer failed cannot hang here."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def _config_file_error(message: str, parser, args) -> Optional[str]:
    """For an error in a ``--config`` file (jsonargparse names neither the file nor, for YAML, more
    than ``"<unicode string>"``): the message naming the file, and for a mistyped key a
    suggestion, as the command line gets; ``None`` for other errors."""
    import yaml

    given = list(args) if isinstance(args, (list, tuple)) else []
    files = [v for o, v in zip(given, given[1:]) if o == "--config"] + \
        [a.split("=", 1)[1] for a in given if a.startswith("--config=")]
    key = re.search(r"does not accept option '([\w.]+)'", message)
    for file in files:
        try:
            data = yaml.safe_load(Path(file).read_text(encoding="utf-8"))
        except yaml.YAMLError as e:
            if "<unicode string>" not in message:
                continue
            mark = getattr(e, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            return f"{file}: not valid YAML{where}: {getattr(e, 'problem', None) or e}"
        except (OSError, UnicodeDecodeError):
            continue
        if key is None:
            continue
        node = data
        for part in key[1].split("."):
            node = node.get(part, KeyError) if isinstance(node, dict) else KeyError
        if node is not KeyError:
            sub, known = _subcommand_options(parser, args)
            if key[1] in ("optimizer", "lr_scheduler"):  # LightningCLI's, printed by textcnn before they were off
                stale = [k for k in ("optimizer", "lr_scheduler") if k in data]
                return (f"{file}: {' and '.join(stale)} at the top level are not options of textcnn "
                        f"{sub or ''}".rstrip() + ": the optimizer is model.optimizer (with model.lr); a config "
                        f"printed by an earlier textcnn has {' and '.join(f'`{k}: null`' for k in stale)} there: "
                        f"delete {'both lines' if len(stale) > 1 else 'that line'}")
            close = [c[2:] for c in close_names(f"--{key[1]}", known)]
            return (f"{file}: {key[1]} is not an option of textcnn {sub or ''}".rstrip()
                    + (f" (did you mean {' or '.join(close)}?)" if close else ""))
    return None


def _subcommand_options(parser, args) -> tuple[Optional[str], list[str]]:
    """The subcommand in ``args`` and its ``--`` options (none when there is no subcommand)."""
    sub = next((a for a in args if a in LIGHTNING_COMMANDS), None) \
        if isinstance(args, (list, tuple)) else None
    subcommands = getattr(parser, "_subcommands_action", None)
    if sub is None or subcommands is None:
        return sub, []
    return sub, [o for action in subcommands.choices[sub]._actions for o in action.option_strings if o.startswith("--")]


def _did_you_mean(message: str, parser, args) -> str:
    """``did you mean --model.variant?`` for the options of an unrecognized or ambiguous option error."""
    known = _subcommand_options(parser, args)[1]
    hint = did_you_mean(message, known) if known else ""
    given = list(args) if isinstance(args, (list, tuple)) else []
    if given[:1] == ["predict"] and re.search(r"unrecognized arguments: .*--(input|output)\b", message):
        # the options of the bundle-based predictor, given to the checkpoint-based one
        hint = "; ".join(filter(None, [hint, "--input and --output are `textcnn predict --bundle DIR`'s; with "
                                             "--ckpt_path: --data.predict_path FILE --prediction_writer.output_path "
                                             "FILE"]))
    return hint


class _DropAdvert(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡 Tip:")


def _quiet_lightning_noise() -> None:
    """Leave out what every run would print and no user can act on: Lightning's advert for its
    cloud logger, a deprecation inside Lightning itself (torch 2.13's pytree), and the note that
    an epoch has fewer batches than the logging interval (the epoch line reports every epoch).
    Under DDP: the advice to validate and test on one device (the dev and test figures count each
    example once anyway) and a deprecation inside Lightning's all_gather."""
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_DropAdvert())
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")
    warnings.filterwarnings("ignore", message=r"Using `DistributedSampler` with the dataloaders\. During "
                            r"`trainer\.(validate|test)\(\)`")
    warnings.filterwarnings("ignore", message=r"torch\.distributed\.nn\.functional\.all_gather is deprecated")
    warnings.filterwarnings("ignore", message=r"The number of training batches \(\d+\) is smaller than the logging "
                            "interval")


def _check_command(argv: list[str]) -> None:
    """A one-line error for a mistyped command, naming the one meant among all of textcnn's
    (LightningCLI's own error lists only its four), and for a --config before the command,
    where LightningCLI reads it as settings of every command at once."""
    if not argv:
        return
    first = argv[0]
    if first in ("-c", "--config") or first.startswith("--config="):
        raise argparse.ArgumentError(None, f"{first}: give the config after the command, e.g. `textcnn fit --config "
                                           "configs/mr.yaml` (before it, LightningCLI reads it as the settings of "
                                           "every command at once)")
    commands = [*LIGHTNING_COMMANDS, *EXTRA_COMMANDS]
    if first.startswith("-") or first in commands:
        return
    close = difflib.get_close_matches(first, commands, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}? " if close else ""
    raise argparse.ArgumentError(None, f"unknown command {first!r}: {hint}textcnn's commands are "
                                       f"{', '.join(commands)} (each takes --help)")


def _run(argv: list[str]) -> int:
    _check_command(argv)
    if argv and argv[0] in EXTRA_COMMANDS:
        return EXTRA_COMMANDS[argv[0]](argv[1:])
    if argv and argv[0] == "predict" and any(a == "--bundle" or a.startswith("--bundle=") for a in argv[1:]):
        return _predict_main(argv[1:])  # the streaming, bundle-based predictor; else LightningCLI's
    if argv[:1] == ["predict"] and ("-h" in argv or "--help" in argv):
        print("textcnn predict has two forms: with a bundle, `textcnn predict --bundle DIR --input FILE --output "
              "FILE` streams a file of any size (`textcnn predict --bundle DIR --help`); with a checkpoint, "
              "LightningCLI's, whose options follow.\n")
    # main() always hands LightningCLI its arguments (without --debug); its warning about
    # args given next to sys.argv would print on every run.
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
    _quiet_lightning_noise()
    if argv and argv[0] in ("validate", "test", "predict"):
        # restoring a checkpoint into a new run folder: the checkpoint callback's state matters to fit only
        warnings.filterwarnings("ignore", message=r"The dirpath has changed from")
    TextCNNCLI(
        TextCNNModule,
        TextDataModule,
        args=argv,
        save_config_kwargs={"overwrite": True},
        # --model.optimizer / --model.lr choose the optimiser (Kim's Adadelta by default); LightningCLI's
        # own --optimizer would silently replace it, and its --lr_scheduler makes --lr ambiguous
        auto_configure_optimizers=False,
        parser_kwargs={"exit_on_error": False, "allow_abbrev": False, "description": "Kim (2014) TextCNN: fit, validate, test, predict; also "
                       "`textcnn cv` (k-fold cross-validation), `textcnn bench` (Kim's benchmarks with baselines), "
                       "`textcnn export` (checkpoint -> bundle), `textcnn classify` (bundle -> labels), "
                       "`textcnn predict --bundle` (file -> predictions) and `textcnn demo`; each takes --help. "
                       "Errors are one line; add --debug for the traceback. `textcnn --version` prints the version."},
    )
    return 0


_PACKAGE = str(Path(__file__).resolve().parent)
_plain_format_warning = warnings.formatwarning


def _format_warning(message, category, filename, lineno, line=None) -> str:
    """textcnn's own warnings as a user reads them: the category and the message (which names the
    file and line of the data), not the line of textcnn's source that raised it."""
    if str(filename).startswith(_PACKAGE):
        return f"{category.__name__}: {message}\n"
    return _plain_format_warning(message, category, filename, lineno, line)


def _rank_label() -> str:
    """`` (rank N)`` in a distributed run's processes other than the first, each of which prints the
    error it meets: the same line twice then reads as two processes, not one doing it twice."""
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    rank = getattr(rank_zero_only, "rank", 0)
    return f" (rank {rank})" if rank else ""


def main(argv: Optional[list[str]] = None) -> int:
    """Entry point of the ``textcnn`` console script. ``--debug`` shows full tracebacks."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("TEXTCNN_DEBUG") == "1"
    argv = [a for a in argv if a != "--debug"]
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("gensim").setLevel(logging.WARNING)  # its INFO "lifecycle event" lines on every load
    torch.set_float32_matmul_precision("high")
    if not debug:
        warnings.formatwarning = _format_warning
    try:
        return _run(argv)
    except BrokenPipeError:  # the reader of standard output stopped (`... | head`): stop quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 141
    except USER_ERRORS as e:
        if debug:
            raise
        # jsonargparse wraps errors raised while computing linked arguments (the data's sizes).
        while isinstance(e.__cause__, USER_ERRORS) and str(e.__cause__) in str(e):
            e = e.__cause__
        message = " ".join(line.strip() for line in str(e).splitlines()) if isinstance(e, argparse.ArgumentError) else e
        if isinstance(e, OSError) and e.filename and e.strerror:  # "[Errno 13] Permission denied: 'x'"
            message = f"{e.filename}: {e.strerror}"
        print(f"textcnn: error{_rank_label()}: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("textcnn: interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.formatwarning = _plain_format_warning  # main() called from Python leaves it as it was


if __name__ == "__main__":
    sys.exit(main())
