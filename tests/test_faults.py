"""Faults: a training process killed with SIGKILL mid-epoch resumes from its last checkpoint and
finishes with the right number of epochs; the same seed on CPU gives the same metrics twice;
Ctrl-C or SIGTERM during ``textcnn cv`` keeps the finished runs for ``--resume``; SIGTERM during ``fit``
exits 143 and Ctrl-C 130, each naming the checkpoint to resume from; a fit stopped and resumed
ends as the uninterrupted run does; SIGTERM during ``predict`` (with a bundle or a checkpoint) exits
143 and leaves the earlier output as it was, and no temporary."""
import csv
import json
import os
import warnings
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import make_sentences, write_csv
from textcnn.cli import main

REPO = Path(__file__).resolve().parents[1]
DEBUG = str(REPO / "configs" / "debug.yaml")
EPOCHS = 3


def _ckpt(path):
    return torch.load(path, map_location="cpu", weights_only=True)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_kill_9_mid_epoch_then_resume_finishes_the_right_number_of_epochs(tmp_path):
    # 2,000 generated sentences: 160 steps and about a second per epoch on a CPU, long enough to
    # land a kill inside an epoch without slowing training artificially.
    data = write_csv(tmp_path / "d.csv", make_sentences(2000))
    cmd = [sys.executable, "-m", "textcnn.cli", "fit", "--config", DEBUG, "--data.train_path", str(data),
           "--trainer.max_epochs", str(EPOCHS), "--trainer.enable_progress_bar", "false",
           "--test_after_fit", "false", "--checkpoint.every_n_epochs", "1"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}  # one thread: kind to a shared CPU
    start = time.monotonic()
    timeline = []
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        for line in proc.stdout:
            if line.startswith("epoch 1/"):
                timeline.append((time.monotonic() - start, "run 1: " + line.strip()))
                break
        else:
            pytest.fail(f"training ended before its first epoch (exit {proc.wait()})")
        time.sleep(0.3)  # early in epoch 2
        proc.send_signal(signal.SIGKILL)
        timeline.append((time.monotonic() - start, "run 1: SIGKILL sent"))
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    runs = tmp_path / "runs" / "debug" / "rand"
    last = runs / "version_0" / "checkpoints" / "last.ckpt"
    killed = _ckpt(last)  # complete and readable despite the kill
    steps_per_epoch = killed["global_step"] // (killed["epoch"] + 1)
    assert killed["epoch"] < EPOCHS - 1, "the kill came too late: training had finished"
    assert not list(runs.rglob("*.tmp")), "a half-written checkpoint was left behind"
    timeline.append((time.monotonic() - start, f"last.ckpt: epoch {killed['epoch'] + 1} done, "
                                               f"step {killed['global_step']}"))

    result = subprocess.run([*cmd, "--ckpt_path", str(last)], cwd=tmp_path, capture_output=True, text=True,
                            env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    epochs = [l for l in result.stdout.splitlines() if l.startswith("epoch ")]
    timeline += [(time.monotonic() - start, "run 2: " + l) for l in epochs]
    assert [l.split()[1] for l in epochs] == [f"{e}/{EPOCHS}" for e in range(killed["epoch"] + 2, EPOCHS + 1)]
    assert not (runs / "version_1").exists(), "the resumed run must continue in the folder it resumed from"
    final = _ckpt(runs / "version_0" / "checkpoints" / "last.ckpt")
    timeline.append((time.monotonic() - start, f"run 2 ended: last.ckpt epoch {final['epoch'] + 1}, "
                                               f"step {final['global_step']}"))
    assert final["epoch"] == EPOCHS - 1 and final["global_step"] == EPOCHS * steps_per_epoch
    with open(runs / "version_0" / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    logged = sorted(int(r["epoch"]) for r in rows if r.get("val/acc"))
    assert logged == list(range(EPOCHS))  # the epochs before the kill are kept, none twice
    steps = [int(r["step"]) for r in rows if r.get("train/loss_step")]
    assert len(steps) == len(set(steps)), "steps of the epoch cut short were logged twice"
    print("\n".join(f"{t:6.1f} s  {what}" for t, what in timeline))


def test_same_seed_on_cpu_gives_identical_metrics_and_weights(tiny_csv, tmp_path, monkeypatch):
    results = []
    for run in ("a", "b"):
        folder = tmp_path / run
        folder.mkdir()
        monkeypatch.chdir(folder)
        assert main(["fit", "--config", DEBUG, "--data.train_path", str(tiny_csv), "--trainer.max_epochs", "2",
                     "--trainer.enable_progress_bar", "false", "--seed_everything", "7"]) == 0
        version = folder / "runs" / "debug" / "rand" / "version_0"
        metrics = json.loads((version / "test_metrics.json").read_text())
        with open(version / "metrics.csv", newline="") as f:
            logged = [{k: v for k, v in row.items() if "seconds" not in k} for row in csv.DictReader(f)]
        last = _ckpt(version / "checkpoints" / "last.ckpt")
        assert last["epoch"] == 1  # last.ckpt follows every epoch, not only the best ones
        weights = last["state_dict"]
        results.append((metrics, logged, weights))
    (m1, l1, w1), (m2, l2, w2) = results
    assert m1 == m2 and l1 == l2
    assert w1.keys() == w2.keys() and all(torch.equal(w1[k], w2[k]) for k in w1)


def _fit_run(folder: Path, data: Path, epochs: int, *extra: str) -> Path:
    folder.mkdir(exist_ok=True)
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        assert main(["fit", "--config", DEBUG, "--data.train_path", str(data), "--trainer.max_epochs", str(epochs),
                     "--trainer.enable_progress_bar", "false", "--seed_everything", "3", *extra]) == 0
    finally:
        os.chdir(cwd)
    return folder / "runs" / "debug" / "rand" / "version_0"


def test_a_fit_stopped_and_resumed_ends_as_the_uninterrupted_run(tmp_path):
    # Labels partly swapped, so that dev accuracy goes up and down instead of sticking at 100%.
    rows = [(text, ("negative" if label == "positive" else "positive") if i % 6 == 0 else label)
            for i, (text, label) in enumerate(make_sentences(400))]
    data = write_csv(tmp_path / "d.csv", rows)
    whole = _fit_run(tmp_path / "whole", data, 6)
    part = _fit_run(tmp_path / "part", data, 3)
    # a resume that fails before training (other data: another vocabulary) leaves no config-resume file
    other = write_csv(tmp_path / "other.csv", make_sentences(300, seed=9))
    os.chdir(tmp_path / "part")
    try:
        assert main(["fit", "--config", DEBUG, "--data.train_path", str(other), "--trainer.max_epochs", "6",
                     "--trainer.enable_progress_bar", "false", "--ckpt_path", str(part / "checkpoints" / "last.ckpt")]) == 2
    finally:
        os.chdir(tmp_path)
    assert not list(part.glob("config-resume-*"))
    # resumed with the run's folder spelled otherwise (absolute, where the first part had it relative):
    # Lightning compares the two as strings and would forget the best dev score so far
    part = _fit_run(tmp_path / "part", data, 6, "--ckpt_path", str(part / "checkpoints" / "last.ckpt"),
                    "--trainer.logger.init_args.save_dir", str(tmp_path / "part" / "runs" / "debug"))

    assert not part.with_name("version_1").exists()  # the same run folder, not a new one
    # the run's config is the one it started with; the resume's is kept beside it
    assert "max_epochs: 3" in (part / "config.yaml").read_text()
    resumed = (part / "config-resume-1.yaml").read_text()
    assert "max_epochs: 6" in resumed and "last.ckpt" in resumed
    def report(run):  # the figures; "checkpoint" names each run's own file
        return {k: v for k, v in json.loads((run / "test_metrics.json").read_text()).items() if k != "checkpoint"}
    assert report(part) == report(whole) and report(whole)["test_data"].startswith("0.2 of ")
    # the best checkpoint by dev accuracy is the uninterrupted run's, though it may date from before the stop
    assert sorted(p.name for p in (part / "checkpoints").glob("best-*")) == \
        sorted(p.name for p in (whole / "checkpoints").glob("best-*"))
    a, b = _ckpt(whole / "checkpoints" / "last.ckpt"), _ckpt(part / "checkpoints" / "last.ckpt")
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])

    def logged(run):
        with open(run / "metrics.csv", newline="") as f:
            return [(r["epoch"], r["val/acc"]) for r in csv.DictReader(f) if r.get("val/acc")]
    assert logged(part) == logged(whole) and len(logged(whole)) == 6

    def tested(run):
        with open(run / "metrics.csv", newline="") as f:
            return [r for r in csv.DictReader(f) if r.get("test/acc")]
    # the test at the end of the first part is not kept beside the resumed run's own
    assert tested(part) == tested(whole) and len(tested(whole)) == 1


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status  # a zombie has ended


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; PR_SET_PDEATHSIG is Linux")
def test_killing_bench_with_jobs_ends_its_worker_processes(tmp_path):
    data = write_csv(tmp_path / "d.csv", make_sentences(2000))
    cmd = [sys.executable, "-m", "textcnn.cli", "cv", "--config", DEBUG, "--train-path", str(data), "--folds", "2",
           "--epochs", "50", "--variants", "rand", "--jobs", "2", "--out", str(tmp_path / "cv.json")]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        workers = []
        while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            workers = [c for c in _children(proc.pid)
                       if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text(errors="replace")]
        assert len(workers) == 2, "two worker processes should have started"
        time.sleep(3)  # into training
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=30)[1]
        deadline = time.monotonic() + 90  # a worker still importing torch ends once it is set up
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(w) for w in workers), "workers outlived the killed command"
        # as at Ctrl-C: the runs kept and how to go on, not an exit without a word
        assert proc.returncode == 143, err[-2000:]
        assert f"finished and saved in {tmp_path / 'cv.json'}; the same command with --resume runs the rest" in err
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_or_sigterm_during_cv_keeps_the_finished_runs_and_resume_runs_the_rest(signum, code, tmp_path,
                                                                                      monkeypatch, capsys):
    # 1,500 generated sentences, 2 folds x 2 seeds, 4 epochs: about two seconds per run, so Ctrl-C
    # (or a `kill`) sent as the first run is saved finds the others still to do.
    data = write_csv(tmp_path / "d.csv", make_sentences(1500))
    out = tmp_path / "cv.json"
    args = ["cv", "--config", DEBUG, "--train-path", str(data), "--folds", "2", "--seeds", "0", "1", "--epochs", "4",
            "--variants", "rand", "--threads", "1", "--out", str(out)]
    # A terminal's Ctrl-C: SIGINT with its default action (a shell's background job would ignore it).
    proc = subprocess.Popen([sys.executable, "-m", "textcnn.cli", *args], cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 120
        while not out.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before the first run was saved"
        proc.send_signal(signum)
        err = proc.communicate(timeout=60)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
    # 130 (143) whether it lands between trainings or during one (where Lightning's shutdown exits 1)
    assert proc.returncode == code, err[-2000:]
    kept = json.loads(out.read_text())["runs"]
    assert 1 <= len(kept) < 4, "Ctrl-C came too late: every run had finished"
    assert f"finished and saved in {out}; the same command with --resume runs the rest" in err

    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    try:
        assert main([*args, "--resume"]) == 0
    finally:
        torch.set_num_threads(threads)
    assert f"resumed: {len(kept)} run" in capsys.readouterr().out
    report = json.loads(out.read_text())
    assert [(r["fold"], r["seed"]) for r in report["runs"]] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert report["runs"][: len(kept)] == sorted(kept, key=lambda r: r["unit"])
    assert report["resumed"][0]["runs_kept"] == len(kept)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("sig, code, name, after", [
    # Lightning stops a run at SIGTERM with exit code 0, which a scheduler would read as success,
    # and at Ctrl-C with 1, the code of a failure. SIGTERM waits for the next batch; Ctrl-C acts
    # at once, so it is sent once epoch 1's checkpoint is surely written.
    (signal.SIGTERM, 143, "SIGTERM", "epoch 1/"),
    (signal.SIGINT, 130, "Ctrl-C", "epoch 2/"),
])
def test_a_stopped_fit_exits_with_the_signal_code_and_names_the_checkpoint_to_resume_from(sig, code, name, after,
                                                                                          tmp_path):
    data = write_csv(tmp_path / "d.csv", make_sentences(2000))
    cmd = [sys.executable, "-m", "textcnn.cli", "fit", "--config", DEBUG, "--data.train_path", str(data),
           "--trainer.max_epochs", "30", "--trainer.enable_progress_bar", "false"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    # SIGINT with its default action, as in a terminal (a shell's background job would ignore it)
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        for line in proc.stdout:
            if line.startswith(after):
                break
        else:
            pytest.fail(f"training ended before {after!r} (exit {proc.wait()})")
        proc.send_signal(sig)
        err = proc.communicate(timeout=60)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err[-2000:]
    last = Path("runs") / "debug" / "rand" / "version_0" / "checkpoints" / "last.ckpt"
    assert f"textcnn: fit stopped by {name}; resume with the same command plus --ckpt_path {last}" in err
    assert _ckpt(tmp_path / last)["epoch"] < 29  # stopped early, and the checkpoint is whole


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_what_a_writer_killed_with_sigkill_leaves_is_removed_by_the_next_write(tmp_path):
    from conftest import make_tiny_bundle
    from textcnn.fileio import STALE_AFTER_S, atomic_write

    target = tmp_path / "last.ckpt"
    writer = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from textcnn.fileio import atomic_write\n"
        "def slow(f):\n    f.write(b'x' * 1000); f.flush(); print('writing', flush=True); time.sleep(60)\n"
        f"atomic_write({str(target)!r}, slow)\n")], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "writing"
    writer.kill()
    writer.wait()
    left = [p for p in tmp_path.iterdir() if p.name.startswith(".last.ckpt.")]
    assert len(left) == 1 and not target.exists()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:  # a live writer's temporary, and a dead one's that is still recent, are kept
        live = tmp_path / f".last.ckpt.{alive.pid}.abc.tmp"
        live.write_bytes(b"y")
        old = time.time() - STALE_AFTER_S - 5
        for p in (live, *left):
            os.utime(p, (old, old))
        recent = tmp_path / f".last.ckpt.{writer.pid}.def.tmp"
        recent.write_bytes(b"z")
        atomic_write(target, b"new")
        assert target.read_bytes() == b"new"
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["last.ckpt", live.name, recent.name])
    finally:
        alive.kill()
        alive.wait()
    # a bundle's temporary folder, as an export killed before its rename leaves it
    bundle = make_tiny_bundle(tmp_path / "model")
    stale = tmp_path / f".model.{writer.pid}.xyz"
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"part")
    os.utime(stale, (old, old))
    make_tiny_bundle(bundle)
    assert not stale.exists() and (bundle / "textcnn.json").is_file()


def test_ctrl_c_in_the_test_after_a_fit_names_the_best_checkpoint_to_test(tiny_csv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        main(["fit", "--config", DEBUG, "--data.train_path", str(tiny_csv), "--trainer.max_epochs", "1",
              "--trainer.callbacks+=conftest.StopInTest", "--trainer.enable_progress_bar", "false"])
    assert stop.value.code == 130
    best = next((tmp_path / "runs" / "debug" / "rand" / "version_0" / "checkpoints").glob("best-*.ckpt"))
    assert ("textcnn: fit stopped by Ctrl-C while testing, after training ended; test the best checkpoint with: "
            f"textcnn test --config ... --ckpt_path {best.relative_to(tmp_path)}") in capsys.readouterr().err


def test_a_fit_resumed_after_early_stopping_trains_nothing_more(tmp_path, capsys, caplog):
    # Labels partly swapped, so that dev accuracy stops improving well before 30 epochs.
    rows = [(text, ("negative" if label == "positive" else "positive") if i % 3 == 0 else label)
            for i, (text, label) in enumerate(make_sentences(400))]
    data = write_csv(tmp_path / "d.csv", rows)
    stopper = tmp_path / "stop.yaml"
    stopper.write_text("trainer:\n  callbacks:\n    - class_path: lightning.pytorch.callbacks.EarlyStopping\n"
                       "      init_args: {monitor: val/acc, mode: max, patience: 1}\n")
    run = _fit_run(tmp_path / "a", data, 30, "--config", str(stopper))
    first = capsys.readouterr().out
    trained = [l for l in first.splitlines() if l.startswith("epoch ")]
    assert 1 < len(trained) < 30, "early stopping should have ended the run"
    last = run / "checkpoints" / "last.ckpt"
    before = _ckpt(last)
    tested = json.loads((run / "test_metrics.json").read_text())

    with caplog.at_level("INFO", logger="textcnn"):
        _fit_run(tmp_path / "a", data, 30, "--config", str(stopper), "--ckpt_path", str(last))
    again = capsys.readouterr().out
    assert not [l for l in again.splitlines() if l.startswith("epoch ")], "no epoch is trained after the stop"
    assert f"stopped early after epoch {len(trained)} (val/acc no better for 1 epoch): nothing left to train" \
        in caplog.text
    after = _ckpt(last)
    assert after["epoch"] == before["epoch"] and after["global_step"] == before["global_step"]
    with open(run / "metrics.csv", newline="") as f:
        assert len([r for r in csv.DictReader(f) if r.get("val/acc")]) == len(trained)
    # the resumed fit tests the same best checkpoint, as the first one did
    assert json.loads((run / "test_metrics.json").read_text()) == tested
    # the same with the run's folder moved elsewhere (its checkpoints name the old folder)
    (tmp_path / "a").rename(tmp_path / "b")
    moved = tmp_path / "b" / run.relative_to(tmp_path / "a")
    _fit_run(tmp_path / "b", data, 30, "--config", str(stopper), "--ckpt_path", str(moved / "checkpoints" / "last.ckpt"),
             "--trainer.logger.init_args.save_dir", str(tmp_path / "b" / "runs" / "debug"))
    assert not [l for l in capsys.readouterr().out.splitlines() if l.startswith("epoch ")]
    again = json.loads((moved / "test_metrics.json").read_text())
    assert again.pop("checkpoint") == str(moved / "checkpoints" / Path(tested.pop("checkpoint")).name) and again == tested
    # another patience given on resuming: Lightning keeps the checkpoint's, and a warning says so
    stopper.write_text(stopper.read_text().replace("patience: 1", "patience: 4"))
    with pytest.warns(UserWarning, match="the resumed run keeps its EarlyStopping patience of 1 .*not the 4 given"):
        _fit_run(tmp_path / "b", data, 30, "--config", str(stopper), "--ckpt_path",
                 str(moved / "checkpoints" / "last.ckpt"))


def test_a_checkpoint_of_the_first_textcnn_resumes_with_its_best_score(tmp_path, capsys):
    # the first textcnn kept the best checkpoint with a plain ModelCheckpoint, whose state key
    # names that class; resumed now, the run must keep its best score, not call the next epoch the best
    data = write_csv(tmp_path / "d.csv", make_sentences(200))
    run = _fit_run(tmp_path / "a", data, 1)
    last = run / "checkpoints" / "last.ckpt"
    ckpt = _ckpt(last)
    (key,) = [k for k in ckpt["callbacks"] if k.startswith("Checkpoint{")]
    state = ckpt["callbacks"].pop(key)
    best = torch.tensor(2.0)  # a score no epoch can beat: kept if the state is read
    state.update(best_model_score=best, kth_value=best, best_k_models={state["best_model_path"]: best})
    ckpt["callbacks"]["Model" + key] = state
    torch.save(ckpt, last)
    capsys.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _fit_run(tmp_path / "a", data, 2, "--ckpt_path", str(last))
    assert not [w for w in caught if "callbacks used to create the checkpoint" in str(w.message)]
    resumed = _ckpt(last)
    assert resumed["epoch"] == 1
    assert float(resumed["callbacks"][key]["best_model_score"]) == 2.0
    assert resumed["callbacks"][key]["best_model_path"] == state["best_model_path"]


def test_a_resumed_fit_cuts_texts_as_the_run_it_continues(tmp_path, capsys, caplog):
    # a run started with no length cap (or by a textcnn from before the cap) is resumed without
    # --data.max_len: it goes on uncapped, as its checkpoints, test and bundle say it was trained
    rows = make_sentences(200) + [("a superb film " + "and more " * 700, "positive")]
    data = write_csv(tmp_path / "d.csv", rows)
    run = _fit_run(tmp_path / "a", data, 1, "--data.max_len", "null")
    last = run / "checkpoints" / "last.ckpt"
    with caplog.at_level("INFO", logger="textcnn"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _fit_run(tmp_path / "a", data, 2, "--ckpt_path", str(last))
    assert "data: texts cut as the resumed run cut them: no limit" in caplog.text
    assert not [w for w in caught if "are cut to their first" in str(w.message)]
    assert _ckpt(last)["textcnn"]["data"]["max_len"] is None and _ckpt(last)["epoch"] == 1
    capsys.readouterr()
    os.chdir(tmp_path / "a")
    try:
        assert main(["fit", "--config", DEBUG, "--data.train_path", str(data), "--trainer.max_epochs", "3",
                     "--data.max_len", "50", "--ckpt_path", str(last)]) == 2
    finally:
        os.chdir(tmp_path)
    assert ("textcnn: error: --data.max_len 50: the run resumed from --ckpt_path did not cut texts; resume with its "
            "limit (leave --data.max_len out), or fit anew without --ckpt_path for another") in capsys.readouterr().err
    # the default said on the command, or in a config, is a limit given too, not the option left out
    capped = tmp_path / "capped.yaml"
    capped.write_text("data:\n  max_len: 1000\n")
    for given in (["--data.max_len", "1000"], ["--data.max_len=1000"], ["--config", str(capped)]):
        os.chdir(tmp_path / "a")
        try:
            assert main(["fit", "--config", DEBUG, "--data.train_path", str(data), "--trainer.max_epochs", "3",
                         *given, "--ckpt_path", str(last)]) == 2
        finally:
            os.chdir(tmp_path)
        assert "textcnn: error: --data.max_len 1000: the run resumed from --ckpt_path did not cut texts" \
            in capsys.readouterr().err


def _term_when_written(cmd, folder: Path, prefix: str, cwd) -> tuple[int, str]:
    """Run ``cmd``, send SIGTERM once a hidden file ``prefix*`` (a temporary being written) is in
    ``folder``; (exit status, stderr)."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 120
        while not any(p.name.startswith(prefix) for p in folder.iterdir()):
            assert proc.poll() is None and time.monotonic() < deadline, "the run ended before writing"
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout=60), proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_during_predict_with_a_bundle_leaves_the_earlier_output_and_no_temporary(tiny_bundle_dir, tmp_path):
    (tmp_path / "in.txt").write_text("a good film and a dull plot\n" * 200_000, encoding="utf-8")
    (tmp_path / "out.csv").write_text("earlier\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "textcnn.cli", "predict", "--bundle", str(tiny_bundle_dir), "--input", "in.txt",
           "--output", "out.csv", "--no-progress", "--threads", "1"]
    code, err = _term_when_written(cmd, tmp_path, ".out.csv.", tmp_path)
    assert code == 143, err[-2000:]
    assert err.strip().splitlines()[-1] == ("textcnn: predict stopped by SIGTERM; out.csv was not written (the earlier "
                                            "one is left as it was)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "out.csv"]
    assert (tmp_path / "out.csv").read_text(encoding="utf-8") == "earlier\n"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_during_predict_with_a_checkpoint_stops_it_with_143(tmp_path, monkeypatch):
    # Lightning notes the SIGTERM and predicts on to the end, writing the file, with exit 0
    data = write_csv(tmp_path / "d.csv", make_sentences(200))
    monkeypatch.chdir(tmp_path)
    assert main(["fit", "--config", DEBUG, "--data.train_path", str(data), "--trainer.max_epochs", "1",
                 "--trainer.enable_progress_bar", "false", "--test_after_fit", "false"]) == 0
    ckpt = next((tmp_path / "runs").rglob("last.ckpt"))
    (tmp_path / "texts.csv").write_text("text\n" + "a good film and a dull plot\n" * 100_000, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "preds.csv").write_text("earlier\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "textcnn.cli", "predict", "--config", DEBUG, "--data.train_path", str(data),
           "--ckpt_path", str(ckpt), "--data.predict_path", "texts.csv", "--prediction_writer.output_path",
           "out/preds.csv", "--trainer.enable_progress_bar", "false"]
    code, err = _term_when_written(cmd, out, ".preds.csv.", tmp_path)
    assert code == 143, err[-2000:]
    assert "textcnn: predict stopped by SIGTERM" in err and "Traceback" not in err, err[-2000:]
    assert [p.name for p in out.iterdir()] == ["preds.csv"]
    assert (out / "preds.csv").read_text(encoding="utf-8") == "earlier\n"
