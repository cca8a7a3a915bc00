"""Distributed data-parallel training on CPU (gloo), launched by Lightning itself: two processes
train, and the test metrics gather every example exactly once across them."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import make_sentences, write_csv

REPO = Path(__file__).resolve().parents[1]
DEBUG = str(REPO / "configs" / "debug.yaml")


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not built in")
def test_ddp_on_two_cpu_processes_trains_and_gathers_test_metrics(tmp_path):
    # 205 sentences -> a test split of 41: odd, so the distributed sampler pads one rank with a repeat
    data = write_csv(tmp_path / "d.csv", make_sentences(205))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    base = ["--config", DEBUG, "--data.train_path", str(data), "--trainer.enable_progress_bar", "false"]
    fit = subprocess.run(
        [sys.executable, "-m", "textcnn.cli", "fit", *base, "--trainer.strategy", "ddp",
         "--trainer.devices", "2", "--trainer.accelerator", "cpu", "--trainer.max_epochs", "2"],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300,
    )
    assert fit.returncode == 0, fit.stderr[-3000:]
    assert "distributed_backend=gloo" in fit.stderr and "All distributed processes registered" in fit.stderr
    assert "sync_dist=True" not in fit.stderr  # no metric is logged per process without reducing it
    run = tmp_path / "runs" / "debug" / "rand" / "version_0"
    ddp = json.loads((run / "test_metrics.json").read_text())
    assert ddp["num_examples"] == 41  # every test example once: not half, not padded

    # the same checkpoint tested in one process gives the same figures
    best = next((run / "checkpoints").glob("best-*.ckpt"))
    single = subprocess.run(
        [sys.executable, "-m", "textcnn.cli", "test", *base, "--ckpt_path", str(best)],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300,
    )
    assert single.returncode == 0, single.stderr[-3000:]
    written = next(l for l in single.stdout.splitlines() if l.startswith("test metrics written to "))
    one = json.loads((tmp_path / written.split()[4]).read_text())
    assert one["num_examples"] == 41
    assert one["accuracy"] == ddp["accuracy"] and one["macro_f1"] == ddp["macro_f1"]
    assert one["confusion_matrix"] == ddp["confusion_matrix"]
