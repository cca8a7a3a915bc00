"""Distributed data-parallel training on CPU (gloo), launched by Lightning itself: two processes
train, and the dev and test metrics and the predictions gather every example exactly once across them."""
import csv
import json
import os
import re
import socket
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
    assert "DistributedSampler" not in fit.stderr  # Lightning's advice to test on one device: not needed

    # the dev figures (33 examples: odd too) count each example once: the epoch lines and the
    # checkpoint's score are those of the same checkpoint validated in one process, not of 34 with a repeat
    validate = subprocess.run(
        [sys.executable, "-m", "textcnn.cli", "validate", *base, "--ckpt_path", str(best)],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300,
    )
    assert validate.returncode == 0, validate.stderr[-3000:]
    single = {k: float(v) for k, v in re.findall(r"(val/\w+)\W+([\d.]+)", validate.stdout)}
    assert single["val/acc"] * 33 == pytest.approx(round(single["val/acc"] * 33))
    logged = [r for r in csv.DictReader((run / "metrics.csv").open(encoding="utf-8")) if r.get("val/acc")]
    at_best = next(r for r in logged if int(r["epoch"]) + 1 == int(re.search(r"epoch(\d+)", best.name)[1]))
    for key in ("val/acc", "val/loss", "val/macro_f1"):
        assert float(at_best[key]) == pytest.approx(single[key], abs=1e-6), key

    # predictions: each process writes its share, the first merges them into the one file asked for,
    # in input order, the same bytes as one process writes (and no share is left behind)
    texts = tmp_path / "texts.csv"
    with open(data, newline="", encoding="utf-8") as f, open(texts, "w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows([[row[0]] for row in list(csv.reader(f))[:102]])  # "text" and 101 texts
    outputs = {}
    for name, ddp_args in (("one", []), ("two", ["--trainer.strategy", "ddp", "--trainer.devices", "2"])):
        predict = subprocess.run(
            [sys.executable, "-m", "textcnn.cli", "predict", *base, "--ckpt_path", str(best), *ddp_args,
             "--data.predict_path", str(texts), "--prediction_writer.output_path", f"preds/{name}.csv"],
            cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300,
        )
        assert predict.returncode == 0, predict.stderr[-3000:]
        outputs[name] = (tmp_path / "preds" / f"{name}.csv").read_bytes()
    assert "predictions written to preds/two.csv (101 texts, from 2 processes)" in predict.stdout
    assert outputs["two"] == outputs["one"] and len(outputs["one"].splitlines()) == 102
    assert sorted(p.name for p in (tmp_path / "preds").iterdir()) == ["one.csv", "two.csv"]


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not built in")
def test_two_machines_without_a_shared_folder_train_and_say_where_the_best_checkpoint_is(tmp_path):
    # Two "machines" (torchrun nodes on this one), each in a folder of its own: only the first
    # writes checkpoints, so the test after fit, which loads the best one on every process, is
    # left out with a message, not a crash of the second machine (and a hang or a broken pipe on the first)
    data = write_csv(tmp_path / "d.csv", make_sentences(205))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    nodes = []
    for rank in (0, 1):
        (tmp_path / f"node{rank}").mkdir()
        nodes.append(subprocess.Popen(
            [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc_per_node", "1", "--node_rank",
             str(rank), "--master_addr", "127.0.0.1", "--master_port", port, "-m", "textcnn.cli", "fit",
             "--config", DEBUG, "--data.train_path", str(data), "--trainer.enable_progress_bar", "false",
             "--trainer.strategy", "ddp", "--trainer.devices", "1", "--trainer.num_nodes", "2",
             "--trainer.accelerator", "cpu"],
            cwd=tmp_path / f"node{rank}", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    said = [node.communicate(timeout=300) for node in nodes]
    for node, (out, err) in zip(nodes, said):
        assert node.returncode == 0, err[-3000:]
    out = said[0][0]
    best = next((tmp_path / "node0" / "runs" / "debug" / "rand" / "version_0" / "checkpoints").glob("best-*.ckpt"))
    assert (f"not tested: the best checkpoint {best.relative_to(tmp_path / 'node0')} is not in a folder every "
            "process can read") in out, out
    assert not (tmp_path / "node1" / "runs").exists() or not list((tmp_path / "node1").rglob("*.ckpt"))
