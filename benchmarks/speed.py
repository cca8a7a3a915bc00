"""Speed on MR: training seconds per epoch and sentences per second for each variant, through
Lightning and through a bare PyTorch loop with the same model, optimiser and batches;
``TextClassifier.predict`` latency and throughput; peak memory of training and of loading a
3,000,000 x 300 word2vec file.

    python benchmarks/speed.py                                  # everything, MR from ../shared
    python benchmarks/speed.py --epochs 3 --variants multichannel --skip-vectors
    python benchmarks/speed.py --accelerator gpu --precision bf16-mixed

Each variant trains in a fresh subprocess, so its ``ru_maxrss`` is that training's peak.
Figures are printed (and written as JSON with ``--out``), never asserted.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

__all__ = ["train_speed", "predict_speed", "main"]


def _median(xs):
    return statistics.median(xs) if xs else float("nan")


def train_speed(config: str, train_path: str, variant: str, epochs: int, accelerator: str, precision: str,
                vectors: str | None = None) -> dict:
    """Seconds per training epoch of ``variant`` on the config's training split, through a
    Lightning ``Trainer`` and through a bare loop (same model, optimiser, max-norm, batches).

    The two paths take turns epoch by epoch (after each Lightning epoch, one bare epoch of a
    second model, run from a callback outside Lightning's timing), so that a shared machine
    getting faster or slower over the minutes of a run affects both alike; the first epoch of
    each (warm-up) is left out of the medians.
    """
    import lightning as L
    import torch
    import torch.nn.functional as F

    from textcnn.bench import load_config, make_datamodule
    from textcnn.cli import EpochSummary
    from textcnn.module import TextCNNModule

    cfg = load_config(config)
    cfg["data"]["train_path"] = train_path
    if vectors:
        cfg["data"]["vectors"] = vectors
    model_cfg = {k: v for k, v in cfg["model"].items() if k != "variant"}
    dm = make_datamodule(cfg["data"], model_cfg)
    dm.setup("fit")

    def new_module():
        L.seed_everything(0, verbose=False)
        return TextCNNModule(vocab_size=dm.vocab_size, num_classes=dm.num_classes, embed_dim=dm.embed_dim,
                             variant=variant, **model_cfg)

    class BareEpoch(L.Callback):
        """After each Lightning epoch, one epoch of the bare loop: the module's own network,
        optimiser settings and max-norm, batches from the same loader."""

        def __init__(self):
            self.seconds: list[float] = []
            self.module = new_module()
            if variant != "rand":
                self.module.model.load_pretrained(torch.from_numpy(dm.embedding_matrix))
            self.optimizer = None

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            device = trainer.strategy.root_device
            model = self.module.model.to(device).train()
            if self.optimizer is None:  # after the move, as Lightning does
                self.optimizer = self.module.configure_optimizers()
            optimizer, max_norm = self.optimizer, self.module.hparams.max_norm
            smoothing = self.module.hparams.get("label_smoothing", 0.0)
            autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision.startswith("bf16"))
            start = time.perf_counter()
            for batch in dm.train_dataloader():
                tokens, labels = batch["tokens"].to(device), batch["labels"].to(device)
                optimizer.zero_grad()
                with autocast:
                    loss = F.cross_entropy(model(tokens), labels, label_smoothing=smoothing)
                loss.backward()
                optimizer.step()
                model.apply_max_norm(max_norm)
            if device.type == "cuda":
                torch.cuda.synchronize()
            self.seconds.append(time.perf_counter() - start)

    # Lightning: the `textcnn fit` path without validation, so that only training is timed; the
    # timer's epoch ends before the bare epoch starts (callbacks run in list order).
    timer, bare = EpochSummary(enabled=False), BareEpoch()
    trainer = L.Trainer(max_epochs=epochs, logger=False, callbacks=[timer, bare], enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                        accelerator=accelerator, devices=1, precision=precision)
    trainer.fit(new_module(), datamodule=dm)
    n = len(dm.splits["train"])
    lit, bare_s = _median(timer.seconds[1:] or timer.seconds), _median(bare.seconds[1:] or bare.seconds)
    return {"variant": variant, "num_train": n, "epochs": epochs, "lightning_epoch_s": lit, "bare_epoch_s": bare_s,
            "lightning_sent_per_s": n / lit, "bare_sent_per_s": n / bare_s, "ratio": lit / bare_s,
            "lightning_all_s": timer.seconds, "bare_all_s": bare.seconds}


def predict_speed(bundle: str, texts: list[str], singles: int, batch_size: int) -> dict:
    """``TextClassifier.predict`` latency of one text (p50, p99 over ``singles`` texts) and the
    throughput of one call on all ``texts``."""
    import numpy as np

    from textcnn.api import TextClassifier

    clf = TextClassifier.load(bundle, device="cpu")
    for t in texts[:20]:  # warm-up
        clf.predict([t])
    latencies = []
    for t in texts[:singles]:
        start = time.perf_counter()
        clf.predict([t])
        latencies.append(time.perf_counter() - start)
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        clf.predict(texts, batch_size=batch_size)
        runs.append(time.perf_counter() - start)
    ms = np.array(latencies) * 1000
    return {"bundle": bundle, "single_p50_ms": float(np.percentile(ms, 50)), "single_p99_ms": float(np.percentile(ms, 99)),
            "singles": len(latencies), "batch_texts": len(texts), "batch_size": batch_size,
            "batch_texts_per_s": len(texts) / min(runs)}


def _child(args) -> None:
    """One variant's training speed in this fresh process, with its peak RSS, as a JSON line."""
    import resource

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    import logging
    import warnings

    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")
    result = train_speed(args.config, args.train_path, args.child, args.epochs, args.accelerator, args.precision,
                         args.train_vectors)
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    result["torch"], result["threads"] = torch.__version__, torch.get_num_threads()
    print(json.dumps(result))


def main(argv: list[str] | None = None) -> None:
    """Run the measurements named by the options and print one table per kind."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default=str(ROOT / "configs" / "mr.yaml"))
    p.add_argument("--train-path", default=str(ROOT.parent / "shared" / "benchmarks" / "mr" / "mr.csv"))
    p.add_argument("--train-vectors", default=None,
                   help="vectors for the training runs instead of the config's (e.g. a GloVe subset file)")
    p.add_argument("--variants", nargs="+", default=["rand", "static", "non-static", "multichannel"])
    p.add_argument("--epochs", type=int, default=3, help="epochs timed per path, the two paths taking turns (the "
                   "first of each is left out of the median)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--accelerator", default="cpu")
    p.add_argument("--precision", default="32-true", help="e.g. bf16-mixed on a GPU")
    p.add_argument("--bundle", default=str(ROOT / "checkpoints" / "mr-multichannel-glove50"))
    p.add_argument("--singles", type=int, default=1000, help="texts timed one at a time")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--skip-train", action="store_true")
    p.add_argument("--skip-predict", action="store_true")
    p.add_argument("--skip-vectors", action="store_true", help="skip the 3,000,000 x 300 vectors load")
    p.add_argument("--vectors-path", default="/tmp/textcnn-bench/w2v-random.bin")
    p.add_argument("--out", default=None, help="also write the figures as JSON")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return _child(args)

    import os

    # No torch in this process until the children are started: Linux carries a parent's peak RSS
    # over into a forked child's ru_maxrss, so a heavy parent would inflate the children's figures.
    threads = args.threads or min(len(os.sched_getaffinity(0)), os.cpu_count() or 1)
    report = {"command": "python benchmarks/speed.py " + " ".join(sys.argv[1:] if argv is None else argv),
              "threads": threads}
    if not args.skip_train:
        print(f"Training on {Path(args.train_path).name} ({args.epochs} epochs per path, taking turns epoch by "
              + ("epoch; median of epochs 2..; " if args.epochs > 1 else "epoch; 1 epoch: the figures include the "
                 "warm-up, give --epochs 3 or more for the median of epochs 2..; ")
              + f"{args.accelerator}, {args.precision}, {report['threads']} threads)")
        print(f"{'variant':<13} {'Lightning s/epoch':>17} {'sent/s':>8} {'bare s/epoch':>13} {'sent/s':>8} "
              f"{'ratio':>6} {'peak RSS':>9}")
        report["train"] = []
        for variant in args.variants:
            cmd = [sys.executable, __file__, "--child", variant, "--config", args.config, "--train-path",
                   args.train_path, "--epochs", str(args.epochs), "--accelerator", args.accelerator,
                   "--precision", args.precision] + (["--threads", str(args.threads)] if args.threads else []) \
                + (["--train-vectors", args.train_vectors] if args.train_vectors else [])
            out = subprocess.run(cmd, check=True, capture_output=True, text=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            report["train"].append(r)
            print(f"{variant:<13} {r['lightning_epoch_s']:>17.2f} {r['lightning_sent_per_s']:>8.0f} "
                  f"{r['bare_epoch_s']:>13.2f} {r['bare_sent_per_s']:>8.0f} {r['ratio']:>6.2f} "
                  f"{r['peak_rss_mib']:>6.0f} MiB", flush=True)
    if not args.skip_vectors:
        print("\nLoading 20,000 words from a 3,000,000 x 300 word2vec binary file (benchmarks/vectors_load.py):",
              flush=True)
        out = subprocess.run([sys.executable, str(Path(__file__).resolve().parent / "vectors_load.py"), "--path",
                              args.vectors_path], check=True, capture_output=True, text=True)
        print(out.stdout.strip(), flush=True)
        report["vectors_load"] = out.stdout.strip().splitlines()
    if not args.skip_predict:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        from textcnn.data import read_examples

        texts = read_examples(args.train_path)[0]
        r = predict_speed(args.bundle, texts, args.singles, args.batch_size)
        report["predict"] = r
        print(f"\nTextClassifier.predict ({Path(args.bundle).name}, cpu): one text p50 {r['single_p50_ms']:.2f} ms, "
              f"p99 {r['single_p99_ms']:.2f} ms ({r['singles']} texts); all {r['batch_texts']:,} texts in one call "
              f"(batch {r['batch_size']}): {r['batch_texts_per_s']:,.0f} texts/s", flush=True)
    # What the figures come from (torch is imported here only now that the children are done).
    from datetime import datetime, timezone

    from textcnn.bench import describe_machine, package_versions

    report.update(date=datetime.now(timezone.utc).isoformat(timespec="seconds"), versions=package_versions(),
                  machine=describe_machine(args.accelerator))
    print(f"\n{report['machine']}; " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nwritten {args.out}")


if __name__ == "__main__":
    main()
