"""`textcnn cv` and `textcnn bench` end to end on tiny generated data, and the NBSVM baseline."""
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import make_sentences, write_csv
from textcnn.baselines import baseline_scores
from textcnn.bench import README_END, README_START, summarize
from textcnn.cli import main
from textcnn.text import build_tokenizer

from test_cli import DEBUG, REPO


def test_cv_folds_partition_the_data_and_baselines_use_the_same_folds(tiny_csv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "cv.json"
    assert main(["cv", "--config", DEBUG, "--train-path", str(tiny_csv), "--folds", "2", "--epochs", "1",
                 "--variants", "rand", "--baselines", "nb-lr", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    runs = report["runs"]
    assert [(r["method"], r["fold"]) for r in runs] == [("rand", 0), ("nb-lr", 0), ("rand", 1), ("nb-lr", 1)]
    for fold in (0, 1):
        sizes = {(r["num_train"], r["num_val"], r["num_test"]) for r in runs if r["fold"] == fold}
        assert len(sizes) == 1  # the CNN and the baseline saw the same split
        train, val, test = sizes.pop()
        assert train + val + test == 200 and val == 10  # 10% of the training part is dev
    assert sum(r["num_test"] for r in runs if r["method"] == "rand") == 200  # the folds cover the file once
    assert set(report["summary"]) == {"rand", "nb-lr"} and report["summary"]["rand"]["n"] == 2
    assert all(0 < r["test_macro_f1"] <= 1 for r in runs)  # the baselines' too
    assert {"macro_f1_mean", "macro_f1_std"} <= set(report["summary"]["nb-lr"])
    assert report["protocol"] == "2-fold CV (all folds, split_seed 0), seed 0"  # the folds' seed is not the training's
    assert "±" in capsys.readouterr().out
    from textcnn.bench import _printed

    assert _printed({"mean": 81.25, "std": 0.0, "n": 1}) == "81.25  (n=1, one run: no spread)"  # not "± 0.00"


def test_cv_with_jobs_matches_one_process_and_patience_stops_early(tiny_csv, tmp_path, monkeypatch):
    import torch

    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    reports = {}
    try:
        for jobs in (1, 2):
            out = tmp_path / f"cv{jobs}.json"
            assert main(["cv", "--config", DEBUG, "--train-path", str(tiny_csv), "--folds", "2", "--epochs", "6",
                         "--patience", "1", "--variants", "rand", "--seeds", "0", "1", "--baselines", "nb-lr", "--threads", "1",
                         "--jobs", str(jobs), "--out", str(out), "--work-dir", str(tmp_path / f"w{jobs}")]) == 0
            reports[jobs] = json.loads(out.read_text())
    finally:
        torch.set_num_threads(threads)
    keys = ("method", "fold", "seed", "num_train", "num_val", "num_test", "test_acc", "val_acc", "best_epoch")
    one, two = ([{k: r.get(k) for k in keys} for r in reports[j]["runs"]] for j in (1, 2))
    assert one == two  # worker processes give the same runs, reported in plan order
    assert [(r["method"], r["fold"], r["seed"]) for r in one] == [  # the baseline once per split
        ("rand", 0, 0), ("nb-lr", 0, 0), ("rand", 0, 1), ("rand", 1, 0), ("nb-lr", 1, 0), ("rand", 1, 1)]
    for r in reports[2]["runs"]:
        if r["method"] != "nb-lr":  # early stopping: one epoch without a better dev accuracy, then stop
            assert r["epochs_run"] == min(6, r["best_epoch"] + 1)
    assert reports[2]["patience"] == 1 and reports[2]["jobs"] == 2
    assert reports[2]["runs_planned"] == len(reports[2]["runs"]) == 6  # the baseline once per fold, not per seed
    assert main(["cv", "--config", DEBUG, "--train-path", str(tiny_csv), "--folds", "2", "--set", "data.fold=1",
                 "--out", str(tmp_path / "x.json")]) == 2
    # a finished report resumed: nothing runs and the report stays as it was (no made-up second sitting)
    before = (tmp_path / "cv2.json").read_text()
    assert main(["cv", "--config", DEBUG, "--train-path", str(tiny_csv), "--folds", "2", "--epochs", "6",
                 "--patience", "1", "--variants", "rand", "--seeds", "0", "1", "--baselines", "nb-lr", "--threads", "1",
                 "--jobs", "2", "--out", str(tmp_path / "cv2.json"), "--work-dir", str(tmp_path / "w2"),
                 "--resume"]) == 0
    assert (tmp_path / "cv2.json").read_text() == before


def _config_with_early_stopping(tmp_path, **init_args):
    """configs/debug.yaml with an EarlyStopping callback of ``init_args`` in trainer.callbacks."""
    import yaml

    cfg = yaml.safe_load(Path(DEBUG).read_text(encoding="utf-8"))
    cfg["trainer"]["callbacks"] = [{"class_path": "lightning.pytorch.callbacks.EarlyStopping",
                                    "init_args": init_args}]
    path = tmp_path / "stopping.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return str(path)


def test_cv_can_choose_epochs_and_c_on_dev_macro_f1_for_imbalanced_classes(tmp_path, monkeypatch, capsys):
    import torch

    monkeypatch.chdir(tmp_path)
    rows = [(text, "rare" if i % 10 == 0 else "common") for i, (text, _) in enumerate(make_sentences(200))]
    data = write_csv(tmp_path / "imbalanced.csv", rows)
    args = ["cv", "--config", DEBUG, "--train-path", str(data), "--folds", "2", "--epochs", "2", "--variants", "rand",
            "--baselines", "nb-lr", "--threads", "1"]
    threads = torch.get_num_threads()
    try:
        assert main([*args, "--monitor", "val/macro_f1", "--out", "f1.json"]) == 0
        out = capsys.readouterr().out
        assert main([*args, "--out", "acc.json"]) == 0
    finally:
        torch.set_num_threads(threads)
    f1, acc = (json.loads(Path(f).read_text()) for f in ("f1.json", "acc.json"))
    assert f1["protocol"].endswith("seed 0; epochs and C chosen on dev macro-F1") and "macro-F1" not in acc["protocol"]
    assert f1["settings"]["monitor"] == "val/macro_f1" and "monitor" not in acc["settings"]  # the default: as before
    for run in f1["runs"]:  # the dev figure that chose, and the chosen epoch's (or C's) dev accuracy
        assert 0 <= run["val_macro_f1"] <= 1 and 0 <= run["val_acc"] <= 1 and "test_macro_f1" in run
    assert all("val_macro_f1" not in run for run in acc["runs"])
    assert "epochs and C chosen on dev macro-F1, up to 2 epochs:" in out
    # a config whose EarlyStopping watches dev macro-F1 is followed by cv without --monitor
    config = _config_with_early_stopping(tmp_path, monitor="val/macro_f1", mode="max", patience=1)
    assert main([*args, "--config", config, "--max-folds", "1", "--out", "es.json"]) == 0
    assert json.loads(Path("es.json").read_text())["settings"]["monitor"] == "val/macro_f1"


def test_cv_stops_with_the_configs_early_stopping_patience_unless_given_one(tiny_csv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = _config_with_early_stopping(tmp_path, monitor="val/acc", mode="max", patience=1)
    common = ["cv", "--config", config, "--train-path", str(tiny_csv), "--folds", "2", "--max-folds", "1",
              "--epochs", "8", "--variants", "rand"]
    out = tmp_path / "cv.json"
    for extra, patience in (([], 1), (["--patience", "3", "--replace"], 3)):  # the second writes over the first
        assert main([*common, *extra, "--out", str(out)]) == 0
        report = json.loads(out.read_text())
        assert report["patience"] == patience
        (run,) = report["runs"]
        assert run["epochs_run"] == min(8, run["best_epoch"] + patience)


@pytest.mark.parametrize("init_args, expected", [
    ({"monitor": "val/loss", "mode": "min", "patience": 3}, r"monitor: val/acc \(or val/macro_f1\) and mode: max"),
    ({"monitor": "val/acc", "mode": "max", "patience": 0}, "patience must be a whole number of epochs"),
])
def test_a_config_whose_early_stopping_the_bench_cannot_follow_is_a_clear_error(tmp_path, init_args, expected):
    from textcnn.bench import load_config
    from textcnn.data import DataError

    config = _config_with_early_stopping(tmp_path, **init_args)
    with pytest.raises(DataError, match=expected) as err:
        load_config(config)
    assert "stopping.yaml" in str(err.value)


@pytest.mark.parametrize("name", ["mr", "sst2", "subj", "trec", "thucnews"])
def test_each_benchmark_config_parses_for_fit_and_gives_the_bench_its_schedule(name, capsys):
    from textcnn.bench import load_config

    path = str(REPO / "configs" / f"{name}.yaml")
    with pytest.raises(SystemExit) as done:
        main(["fit", "--config", path, "--print_config"])
    assert done.value.code == 0 and "EarlyStopping" in capsys.readouterr().out
    config = load_config(path)
    assert config["max_epochs"] >= 25 and config["patience"] in (5, 10)


def tiny_benchmarks(root):
    """A benchmarks folder with a tiny MR (one CSV, cross-validated) and SST-2 (train/dev/test)."""
    data = root / "benchmarks"
    (data / "mr").mkdir(parents=True)
    (data / "sst2").mkdir()
    write_csv(data / "mr" / "mr.csv", make_sentences(120, seed=1))
    for name, n, seed in (("train", 100, 2), ("dev", 30, 3), ("test", 40, 4)):
        write_csv(data / "sst2" / f"{name}.csv", make_sentences(n, seed=seed))
    return data


def test_bench_writes_table_and_json_for_the_sets_found(tiny_glove, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    data = tiny_benchmarks(tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n## Results\n\n{README_START}\nold\n{README_END}\n\n## Next\n")
    out = tmp_path / "results" / "bench"
    code = main(["bench", "--data-dir", str(data), "--variants", "rand", "static", "--folds", "2", "--epochs", "1",
                 "--seeds", "1", "--rand-dim", "16", "--vectors-en", str(tiny_glove), "--set", "model.num_filters=4",
                 "--out", str(out), "--readme", str(readme)])
    assert code == 0
    report = json.loads(out.with_suffix(".json").read_text())
    assert list(report["datasets"]) == ["mr", "sst2"]  # subj, trec, thucnews are absent: skipped
    assert report["command"].startswith("textcnn bench --data-dir") and report["versions"]["torch"]
    mr, sst2 = report["datasets"]["mr"], report["datasets"]["sst2"]
    assert set(mr["summary"]) == set(sst2["summary"]) == {"rand", "static", "tfidf-lr", "nb-lr"}
    assert mr["summary"]["static"]["n"] == 2 and sst2["summary"]["static"]["n"] == 1
    assert {r["num_test"] for r in sst2["runs"]} == {40} and mr["model"]["num_filters"] == 4
    assert mr["data"]["max_len"] == 1000  # the default, recorded: --resume compares it
    table = out.with_suffix(".md").read_text()
    assert table.splitlines()[0] == "| model | MR | SST-2 |"
    assert "| CNN-static |" in table and "| TF-IDF 1-2-grams + LR |" in table and "Kim (2014)" in table
    text = readme.read_text()
    assert "\nold\n" not in text and table in text and text.endswith("## Next\n")
    # the same command again would write over these results: refused before any training
    before = out.with_suffix(".json").read_bytes()
    capsys.readouterr()
    assert main(["bench", "--data-dir", str(data), "--variants", "rand", "--epochs", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert (f"bench.json: --out: holds the 12 runs of an earlier complete run ({report['date']}); --update reruns "
            "only the --datasets named into it, another --out writes elsewhere, --replace writes over it") in err
    assert "epoch" not in err and out.with_suffix(".json").read_bytes() == before
    # an unfinished one can be resumed; one without the key (textcnn wrote it at the end, before --resume) is complete
    for complete, state, resume in ((False, "unfinished", "--resume continues it, "), (None, "complete", "")):
        edited = {k: v for k, v in report.items() if k != "complete"}
        out.with_suffix(".json").write_text(json.dumps(edited if complete is None else {**edited, "complete": False}))
        assert main(["bench", "--data-dir", str(data), "--variants", "rand", "--epochs", "1", "--out", str(out)]) == 2
        assert f"an earlier {state} run ({report['date']}); {resume}--update reruns" in capsys.readouterr().err


def test_bench_update_reruns_one_set_and_keeps_the_others_with_their_command(tiny_glove, tmp_path, monkeypatch,
                                                                              capsys):
    monkeypatch.chdir(tmp_path)
    data = tiny_benchmarks(tmp_path)
    out = tmp_path / "bench"
    common = ["bench", "--data-dir", str(data), "--variants", "rand", "--baselines", "--folds", "2", "--epochs", "1",
              "--seeds", "1", "--rand-dim", "8", "--out", str(out)]
    assert main([*common, "--update"]) == 2  # nothing to update yet
    assert "no earlier report" in capsys.readouterr().err
    assert main([*common, "--set", "model.num_filters=4"]) == 0
    first = json.loads(out.with_suffix(".json").read_text())
    assert main([*common, "--datasets", "sst2", "--set", "model.num_filters=3", "model.label_smoothing=0.1",
                 "--update"]) == 0
    report = json.loads(out.with_suffix(".json").read_text())
    assert list(report["datasets"]) == ["mr", "sst2"]
    mr, sst2 = report["datasets"]["mr"], report["datasets"]["sst2"]
    assert mr["runs"] == first["datasets"]["mr"]["runs"] and mr["source"]["command"] == first["command"]
    assert sst2["model"]["num_filters"] == 3 and "source" not in sst2 and "--update" in report["command"]
    table = out.with_suffix(".md").read_text()
    assert f"MR: generated by `{first['command']}`" in table and f"SST-2: generated by `{report['command']}`" in table
    lines = {line.split(":")[0]: line for line in table.splitlines() if line.startswith("- ")}
    assert lines["- SST-2"].endswith("; label smoothing 0.1.") and "smoothing" not in lines["- MR"]
    # a quicker rerun over fuller results is refused before any training, unless --replace
    before = out.with_suffix(".json").read_text()
    quick = [*common, "--datasets", "mr", "--max-folds", "1", "--update"]
    assert main(quick) == 2
    assert "--update would replace mr and lose 2 runs with 1; rerun it in full" in capsys.readouterr().err
    assert main([*common, "--datasets", "sst2", "--baselines", "nb-lr", "--variants", "static", "--update"]) == 2
    assert "--update would replace sst2 and lose its rand results" in capsys.readouterr().err
    assert out.with_suffix(".json").read_text() == before
    assert main([*quick, "--replace"]) == 0
    assert len(json.loads(out.with_suffix(".json").read_text())["datasets"]["mr"]["runs"]) == 1


def _noisy(n, seed):
    """Generated sentences with every fifth label swapped: accuracies stay under 100%, so two runs
    that agree on them agree on something."""
    rows = make_sentences(n, seed=seed)
    swap = {"positive": "negative", "negative": "positive"}
    return [(text, swap[label] if i % 5 == 0 else label) for i, (text, label) in enumerate(rows)]


def _interrupt_after(monkeypatch, units):
    """Ctrl-C (KeyboardInterrupt) as the bench starts unit ``units + 1``; returns the calls made."""
    import textcnn.bench as bench

    calls = []
    run_unit = getattr(bench.run_unit, "unpatched", bench.run_unit)

    def counting(unit):
        calls.append(unit.index)
        if units is not None and len(calls) > units:
            raise KeyboardInterrupt
        return run_unit(unit)

    counting.unpatched = run_unit
    monkeypatch.setattr(bench, "run_unit", counting)
    return calls


RESULT_KEYS = ("method", "fold", "seed", "unit", "num_train", "num_val", "num_test", "test_acc", "val_acc",
               "best_epoch", "epochs_run", "C")


def _results(runs):
    return [{k: r.get(k) for k in RESULT_KEYS} for r in runs]


def test_an_interrupted_bench_resumes_with_the_runs_left_and_ends_as_one_run_would(tiny_glove, tmp_path,
                                                                                   monkeypatch, capsys):
    import torch

    monkeypatch.chdir(tmp_path)
    data = tmp_path / "benchmarks"
    (data / "mr").mkdir(parents=True)
    (data / "sst2").mkdir()
    write_csv(data / "mr" / "mr.csv", _noisy(120, 1))
    for name, n, seed in (("train", 100, 2), ("dev", 30, 3), ("test", 40, 4)):
        write_csv(data / "sst2" / f"{name}.csv", _noisy(n, seed))
    common = ["bench", "--data-dir", str(data), "--variants", "rand", "static", "--baselines", "nb-lr", "--folds", "2",
              "--epochs", "2", "--seeds", "1", "--rand-dim", "8", "--vectors-en", str(tiny_glove),
              "--set", "model.num_filters=3", "--threads", "1"]
    threads = torch.get_num_threads()
    try:
        assert main([*common, "--out", "whole"]) == 0  # 9 units: MR 2 folds x 3, SST-2 3
        whole = json.loads(Path("whole.json").read_text())

        _interrupt_after(monkeypatch, 3)  # MR fold 1 done (rand, static, NBSVM), then Ctrl-C
        assert main([*common, "--out", "part"]) == 130
        assert "3 runs finished and saved in part.json; the same command with --resume" in capsys.readouterr().err
        assert Path("part.md").read_text().startswith("**Incomplete** (")  # not a table that looks finished
        part = json.loads(Path("part.json").read_text())
        assert [len(d["runs"]) for d in part["datasets"].values()] == [3, 0]
        # neither keeps the unfinished MR as it is, nor matches its runs to another plan's by position
        assert main([*common, "--datasets", "sst2", "--out", "part", "--update"]) == 2
        assert "--update would keep MR (3 of 6 runs) from an unfinished run" in capsys.readouterr().err
        assert main([*common, "--datasets", "sst2", "mr", "--out", "part", "--resume"]) == 2
        assert 'settings.datasets ["mr", "sst2"] then, ["sst2", "mr"] now' in capsys.readouterr().err
        assert json.loads(Path("part.json").read_text()) == part
        # a report written before the data set list and the files' checksums were kept resumes too
        del part["settings"]["datasets"]
        for entry in part["datasets"].values():
            del entry["sha256"]
        Path("part.json").write_text(json.dumps(part))

        calls = _interrupt_after(monkeypatch, None)
        assert main([*common, "--out", "part", "--resume", "--jobs", "1"]) == 0
        assert calls == [3, 4, 5, 6, 7, 8]  # only the units the interrupted run had not finished
    finally:
        torch.set_num_threads(threads)
    done = json.loads(Path("part.json").read_text())
    for name in ("mr", "sst2"):
        assert _results(done["datasets"][name]["runs"]) == _results(whole["datasets"][name]["runs"])
        assert done["datasets"][name]["summary"] == whole["datasets"][name]["summary"]
    assert done["command"] == part["command"] and done["date"] == part["date"]
    assert [s["runs_kept"] for s in done["resumed"]] == [3] and "--resume" in done["resumed"][0]["command"]
    assert done["elapsed_minutes"] >= part["elapsed_minutes"]
    assert "in 0 min over 2 sittings (interrupted, then `--resume`)" in Path("part.md").read_text()

    # another run's report is never mixed in: a clear error names what differs
    assert main([*common, "--seeds", "2", "--out", "part", "--resume"]) == 2
    assert "settings.seeds [0] then, [0, 1] now" in capsys.readouterr().err
    assert main([*common, "--out", "other", "--resume"]) == 2
    assert "other.json: --resume: no earlier report to resume" in capsys.readouterr().err
    write_csv(data / "sst2" / "test.csv", _noisy(40, 9))  # rewritten in place: same path, other texts
    assert main([*common, "--out", "part", "--resume"]) == 2
    assert "sst2.sha256.test " in capsys.readouterr().err


def _slow_or_failing(unit: tuple[str, str]) -> list[dict]:
    """A stand-in for a unit's training, run in a bench worker process: "bad" fails, "slow" ends
    a second after it."""
    import time

    name, flag = unit
    if name == "bad":
        Path(flag).touch()
        raise ValueError("bad.csv, line 3: expected a label")
    while not Path(flag).exists():
        time.sleep(0.05)
    time.sleep(1)
    return [{"unit": name}]


def test_a_failing_unit_lets_the_running_ones_finish_and_be_saved_before_its_error(tmp_path, capsys):
    from textcnn.bench import run_units

    saved, flag = [], str(tmp_path / "failed")
    with pytest.raises(ValueError, match="bad.csv, line 3: expected a label"):
        run_units([("slow", flag), ("bad", flag)], lambda unit, run: saved.append(run), jobs=2, threads=1,
                  work=_slow_or_failing)
    assert saved == [{"unit": "slow"}]  # the other worker's run is kept, not thrown away with the pool
    assert "waiting for the 1 unit(s) already running to finish and be saved" in capsys.readouterr().err


def test_an_interrupted_cv_resumes_with_the_folds_left(tmp_path, monkeypatch, capsys):
    import torch

    monkeypatch.chdir(tmp_path)
    data = write_csv(tmp_path / "noisy.csv", _noisy(150, 5))
    common = ["cv", "--config", DEBUG, "--train-path", str(data), "--folds", "3", "--epochs", "2", "--variants", "rand",
              "--baselines", "nb-lr", "--threads", "1"]
    threads = torch.get_num_threads()
    try:
        assert main([*common, "--out", "whole.json"]) == 0
        _interrupt_after(monkeypatch, 2)  # fold 1 done, then Ctrl-C
        assert main([*common, "--out", "part.json"]) == 130
        assert "2 runs finished and saved in part.json" in capsys.readouterr().err
        part = json.loads(Path("part.json").read_text())
        assert part["complete"] is False and part["runs_planned"] == 6 and len(part["runs"]) == 2
        calls = _interrupt_after(monkeypatch, None)
        assert main([*common, "--out", "part.json", "--resume"]) == 0
        assert calls == [2, 3, 4, 5]
        assert "resumed: 2 runs kept from part.json" in capsys.readouterr().out
    finally:
        torch.set_num_threads(threads)
    whole, done = (json.loads(Path(f).read_text()) for f in ("whole.json", "part.json"))
    assert _results(done["runs"]) == _results(whole["runs"]) and done["summary"] == whole["summary"]
    assert done["complete"] is True and whole["complete"] is True
    # the split recorded is the one that ran: 10% of each training part for dev (debug.yaml says 0.2)
    assert done["data"]["val_fraction"] == 0.1 and done["data"]["test_fraction"] == 0.0
    assert {r["num_val"] for r in done["runs"]} == {10}  # 10% of the 100 training texts of each fold
    assert main([*common, "--epochs", "3", "--out", "part.json", "--resume"]) == 2
    assert "(epochs 2 then, 3 now); otherwise --replace starts again (its runs are lost)" in capsys.readouterr().err
    # a report of an earlier textcnn: no split_seed in its protocol, a version it did not record, no length
    # cap: resumed when given the cap it ran with (the error says how), the rest read as it was meant
    old = {**done, "complete": False, "runs": done["runs"][:4], "protocol": "3-fold CV (all folds), seed 0",
           "versions": {k: v for k, v in done["versions"].items() if k != "numpy"},
           "data": {**done["data"], "max_len": None}}
    Path("old.json").write_text(json.dumps(old))
    assert main([*common, "--out", "old.json", "--resume"]) == 2
    assert ("(data.max_len null then, 1000 now); to resume it, give its settings: --set data.max_len=null; "
            in capsys.readouterr().err)
    assert main([*common, "--out", "old.json", "--resume", "--set", "data.max_len=null"]) == 0
    assert _results(json.loads(Path("old.json").read_text())["runs"]) == _results(whole["runs"])
    # a config's dev file is not the protocol's dev set: each fold holds out 10% of its training part
    dev = write_csv(tmp_path / "dev.csv", _noisy(30, 6))
    assert main([*common, "--max-folds", "1", "--baselines", "--set", f"data.val_path={dev}", "--out", "v.json"]) == 0
    assert f"the config's data.val_path ({dev}) is not used: each fold's dev set is 10% of its" in capsys.readouterr().err
    assert [r["num_val"] for r in json.loads(Path("v.json").read_text())["runs"]] == [10]


def test_bench_without_any_data_set_is_a_one_line_error(tmp_path, capsys):
    assert main(["bench", "--data-dir", str(tmp_path), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "none of the data sets found" in err and "mr (no mr/mr.csv)" in err and "Traceback" not in err


def _bench_error(capsys, *args):
    code = main(["bench", *args])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    return err


def test_bench_mistakes_stop_before_any_training_with_one_line(tiny_glove, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    data = tiny_benchmarks(tmp_path)
    (data / "sst2" / "dev.csv").unlink()
    quick = ["--data-dir", str(data), "--variants", "rand", "--folds", "2", "--epochs", "1", "--seeds", "1",
             "--vectors-en", str(tiny_glove)]
    out = ["--out", str(tmp_path / "r" / "b")]
    # a set named on the command line but incomplete is an error, not a silently shorter table
    assert "sst2 (no sst2/dev.csv)" in _bench_error(capsys, *quick, *out, "--datasets", "mr", "sst2")
    assert "--data-dir: folder not found" in _bench_error(capsys, *quick[2:], "--data-dir", "nope", *out)
    for option, value in (("--seeds", "0"), ("--epochs", "0"), ("--epochs", "-1"), ("--max-folds", "0")):
        assert f"{option} must be at least 1, got {value}" in _bench_error(capsys, *quick, *out, option, value)
    assert "no model option 'no_such_key'" in _bench_error(capsys, *quick, *out, "--set", "model.no_such_key=3")
    (tmp_path / "afile").write_text("x")
    assert "--out: " in _bench_error(capsys, *quick, "--out", str(tmp_path / "afile" / "b"))
    (tmp_path / "r" / "isdir.json").mkdir(parents=True)
    assert "--out: is a folder" in _bench_error(capsys, *quick, "--out", str(tmp_path / "r" / "isdir"))
    readme = tmp_path / "R.md"
    readme.write_text(f"{README_END}\n{README_START}\n")  # the markers in the wrong order
    assert "in that order" in _bench_error(capsys, *quick, *out, "--readme", str(readme))
    # a vectors file that is not there: named before any run, not when its set comes (maybe an hour in)
    err = _bench_error(capsys, *quick[:-1], str(tmp_path / "nope.txt"), *out, "--datasets", "mr")
    assert "nope.txt: vectors file does not exist" in err and "(the vectors of MR)" in err
    # values the protocol sets for each run: refused, not recorded as applied and ignored
    assert "--set data.val_fraction: MR: the protocol sets it" in _bench_error(
        capsys, *quick, *out, "--datasets", "mr", "--set", "data.val_fraction=0.2")
    assert "--set model.variant: " in _bench_error(capsys, *quick, *out, "--set", "model.variant=static")
    # the sets' configs: the checkout's configs/ (an installed package has none) or --configs FOLDER
    import textcnn.bench

    monkeypatch.setattr(textcnn.bench, "CONFIG_DIR", tmp_path / "site-packages" / "configs")
    err = _bench_error(capsys, *quick, *out, "--datasets", "mr")
    assert "configs: no mr.yaml here (the benchmark's configs come with a checkout" in err and "--configs FOLDER" in err
    mine = tmp_path / "my-configs"
    assert "my-configs: --configs: folder not found" in _bench_error(capsys, *quick, *out, "--configs", str(mine))
    mine.mkdir()
    assert "my-configs: no mr.yaml here; give" in _bench_error(capsys, *quick, *out, "--datasets", "mr",
                                                               "--configs", str(mine))
    (mine / "mr.yaml").write_text((REPO / "configs" / "mr.yaml").read_text().replace("drop_rate: 0.5", "drop_rate: 7"))
    err = _bench_error(capsys, *quick, *out, "--datasets", "mr", "--configs", str(mine))
    assert f"{mine / 'mr.yaml'}" in err and "drop_rate" in err  # the folder given is the one read
    with pytest.raises(SystemExit, match="2"):  # argparse's usage error, before anything is read
        main(["bench", *quick, *out, "--accelerator", "tpu"])
    assert "invalid choice: 'tpu'" in capsys.readouterr().err
    assert not (tmp_path / "r" / "b.json").exists() and not (tmp_path / "runs").exists()  # nothing ran


def test_bench_out_keeps_its_dots_and_files_keep_their_mode(tiny_glove, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = tiny_benchmarks(tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text(f"{README_START}\nold\n{README_END}\n")
    readme.chmod(0o644)
    assert main(["bench", "--data-dir", str(data), "--datasets", "sst2", "sst2", "--variants", "rand", "rand",
                 "--baselines", "--epochs", "1", "--seeds", "1", "--vectors-en", str(tiny_glove),
                 "--out", str(tmp_path / "bench.v2"), "--readme", str(readme)]) == 0
    assert sorted(p.name for p in tmp_path.glob("bench.*")) == ["bench.v2.json", "bench.v2.md"]
    assert readme.stat().st_mode & 0o777 == 0o644  # rewritten in place, not made private
    report = json.loads((tmp_path / "bench.v2.json").read_text())
    assert report["datasets"]["sst2"]["summary"]["rand"]["n"] == 1  # a name given twice runs once


@pytest.mark.parametrize("content", ["[1, 2, 3]", '{"datasets": {"mr": {"runs": null}}}',
                                     '{"datasets": {"mr": {"runs": [{"test_acc": 0.5}]}}}'])
def test_resume_from_a_malformed_report_is_a_one_line_error(content, tiny_glove, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    data = tiny_benchmarks(tmp_path)
    (tmp_path / "b.json").write_text(content)
    err = _bench_error(capsys, "--data-dir", str(data), "--datasets", "sst2", "--variants", "rand", "--epochs", "1",
                       "--seeds", "1", "--vectors-en", str(tiny_glove), "--out", str(tmp_path / "b"), "--resume")
    assert "not a report of textcnn bench or cv" in err


def test_cv_config_that_is_not_yaml_or_an_out_folder_is_a_one_line_error(tiny_csv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    assert main(["cv", "--config", str(bad), "--train-path", str(tiny_csv), "--folds", "2"]) == 2
    assert "bad.yaml: not valid YAML" in capsys.readouterr().err
    (tmp_path / "o").mkdir()
    assert main(["cv", "--config", DEBUG, "--train-path", str(tiny_csv), "--folds", "2", "--out", str(tmp_path / "o")]) == 2
    assert "--out: is a folder" in capsys.readouterr().err
    # a pretrained variant with a config that has no vectors: said before the first run (rand) trains
    assert main(["cv", "--config", DEBUG, "--train-path", str(tiny_csv), "--folds", "2", "--variants", "rand",
                 "static", "--out", str(tmp_path / "v.json")]) == 2
    err = capsys.readouterr().err
    assert (f"static needs pretrained vectors, and {DEBUG} has no data.vectors: add --set data.vectors=glove-6b-50d "
            "(or a vectors file) and data.embedding_dim=null, or run --variants rand only") in err, err
    assert not (tmp_path / "v.json").exists() and not (tmp_path / "runs").exists()


def test_cv_takes_set_and_its_error_hints_name_set_not_the_options_of_fit(tiny_csv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    reviews = tmp_path / "reviews.csv"
    reviews.write_text(tiny_csv.read_text(encoding="utf-8").replace("text,label", "review,label", 1), encoding="utf-8")
    args = ["cv", "--config", DEBUG, "--train-path", str(reviews), "--folds", "2", "--max-folds", "1", "--epochs", "1",
            "--variants", "rand", "--out", str(tmp_path / "cv.json")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "no column 'text' in the header; columns found: ['review', 'label']" in err
    assert "(--set data.text_column=NAME; in Python text_column=NAME)" in err and "--data." not in err
    assert main([*args, "--set", "data.text_column=review", "data.split_seed=7", "--replace"]) == 0
    report = json.loads((tmp_path / "cv.json").read_text())
    assert report["data"]["text_column"] == "review" and report["data"]["split_seed"] == 7
    assert report["protocol"].startswith("2-fold CV (fold 1 only, split_seed 7), seed ")
    assert main([*args, "--set", "data.textcolumn=review"]) == 2
    assert ("--set 'data.textcolumn=review': no data option 'textcolumn'; did you mean data.text_column?"
            in capsys.readouterr().err)


@pytest.mark.parametrize("value, message", [
    ("model.lr=abc", "model.lr: 'abc' is not a valid value; expected null or float"),
    ("model.kernel_sizes=7", "model.kernel_sizes: 7 is not a valid value; expected list[int]"),
    ("model.drop_rate=2", "drop_rate must be in [0, 1), got 2"),
    ("model.max_norm=0", "max_norm must be a positive number (or null for no constraint), got 0"),
    ("data.max_len=0", "--set data.max_len=... must be at least 1, got 0; null for no limit"),
])
def test_a_bad_set_value_stops_before_any_training_with_the_key(value, message, tiny_csv, tmp_path, monkeypatch,
                                                                  capsys):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "cv.json"
    assert main(["cv", "--config", DEBUG, "--train-path", str(tiny_csv), "--folds", "2", "--out", str(out),
                 "--set", value]) == 2
    err = capsys.readouterr().err
    assert f"debug.yaml: {message}" in err and "Traceback" not in err, err
    assert not out.exists()


def test_a_bad_row_in_any_set_stops_the_bench_before_the_first_training(tiny_glove, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    data = tiny_benchmarks(tmp_path)
    test = data / "sst2" / "test.csv"
    test.write_text(test.read_text(encoding="utf-8") + "one,too,many\n", encoding="utf-8")
    calls = _interrupt_after(monkeypatch, None)
    assert main(["bench", "--data-dir", str(data), "--variants", "rand", "--folds", "2", "--epochs", "1",
                 "--seeds", "1", "--out", str(tmp_path / "b")]) == 2
    assert "test.csv, line 42: expected 2 fields" in capsys.readouterr().err
    assert calls == [] and not (tmp_path / "b.json").exists()  # MR, first in order, never trained


def test_nb_lr_baseline_learns_a_multiclass_cue_and_picks_c_on_dev():
    rng = np.random.default_rng(0)
    cues = ["alpha", "beta", "gamma"]

    def sample(n):
        labels = rng.integers(0, 3, n)
        texts = [" ".join(rng.choice(["x", "y", "z", "w"], 4).tolist() + [cues[c]]) for c in labels]
        return texts, labels.tolist()

    tok = build_tokenizer("word")
    for name in ("nb-lr", "tfidf-lr"):
        result = baseline_scores(name, tok, sample(90), sample(30), sample(30))
        assert result["test_acc"] == 1.0 and result["C"] > 0


def test_summarize_is_mean_and_sample_std_in_percent():
    runs = [{"method": "rand", "test_acc": a} for a in (0.7, 0.8)] + [{"method": "nb-lr", "test_acc": 0.9}]
    s = summarize(runs)
    assert s["rand"] == {"mean": 75.0, "std": pytest.approx(7.07, abs=0.01), "n": 2}
    assert s["nb-lr"] == {"mean": 90.0, "std": 0.0, "n": 1}
    # macro-F1 beside accuracy where every run has it: 95% accuracy can be one class always predicted
    runs = [{"method": "rand", "test_acc": 0.95, "test_macro_f1": f} for f in (0.24, 0.26)]
    runs += [{"method": "nb-lr", "test_acc": 0.9}]  # a report from before baselines recorded it
    s = summarize(runs)
    assert s["rand"]["macro_f1_mean"] == pytest.approx(25.0) and s["rand"]["macro_f1_std"] == pytest.approx(1.414, abs=1e-3)
    assert "macro_f1_mean" not in s["nb-lr"]
    from textcnn.bench import _summary_lines

    head, rand, nb = _summary_lines(s, "  ")
    assert head.split() == ["accuracy", "macro-F1"]
    assert rand.split()[-3:] == ["25.00", "±", "1.41"] and "95.00 ± 0.00  (n=2)" in rand and nb.endswith(" –")


def test_speed_script_times_lightning_and_the_bare_loop_epoch_by_epoch(tiny_csv, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "speed.json"
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "speed.py"), "--config", DEBUG, "--train-path",
                    str(tiny_csv), "--variants", "rand", "--epochs", "3", "--threads", "1", "--skip-vectors",
                    "--skip-predict", "--out", str(out)], check=True, capture_output=True, text=True)
    (train,) = json.loads(out.read_text())["train"]
    assert train["variant"] == "rand" and train["epochs"] == 3
    for path in ("lightning", "bare"):  # three epochs each; the medians leave out the first
        seconds = train[f"{path}_all_s"]
        assert len(seconds) == 3 and all(s > 0 for s in seconds)
        assert train[f"{path}_epoch_s"] == pytest.approx(float(np.median(seconds[1:])))
    assert train["ratio"] == pytest.approx(train["lightning_epoch_s"] / train["bare_epoch_s"])
    assert train["num_train"] == 128 and train["peak_rss_mib"] > 0  # 200 rows less 20% test, 20% of the rest dev


def test_the_protocol_names_early_stopping_only_where_it_could_stop_a_run():
    from textcnn.bench import _stopping

    assert _stopping(5, 25) == ", stopped after 5 epochs without a better dev accuracy"
    # the first epoch is always the best so far: with 2 epochs, patience 5 can never stop a run
    assert _stopping(5, 2) == "" and _stopping(5, 5) == "" and _stopping(None, 25) == ""
    assert _stopping(1, 2) == ", stopped after 1 epoch without a better dev accuracy"


def test_schedules_that_read_the_same_are_one_phrase():
    from textcnn.bench import _schedules

    sets = {"trec": {"title": "TREC", "epochs": 2, "patience": 5}, "mr": {"title": "MR", "epochs": 2, "patience": 10},
            "subj": {"title": "Subj", "epochs": 25, "patience": 5}}
    assert _schedules(sets, ["trec", "mr"], {}) == "up to 2 epochs"
    assert _schedules(sets, ["trec", "subj"], {}) == ("up to 2 epochs (TREC); up to 25 epochs, stopped after 5 "
                                                       "epochs without a better dev accuracy (Subj)")


def test_bench_refuses_a_set_split_seed_where_each_seed_draws_the_split(tiny_glove, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    data = tiny_benchmarks(tmp_path)
    err = _bench_error(capsys, "--data-dir", str(data), "--datasets", "sst2", "--variants", "rand", "--epochs", "1",
                       "--seeds", "1", "--vectors-en", str(tiny_glove), "--out", str(tmp_path / "b"),
                       "--set", "data.split_seed=7")
    assert ("--set data.split_seed: SST-2: the protocol sets it for each run (each seed of --seeds draws its own "
            "dev split)") in err
    assert not (tmp_path / "b.json").exists()


def test_an_out_or_readme_where_no_file_can_be_created_is_refused_before_any_training(tiny_glove, tiny_csv, tmp_path,
                                                                                     monkeypatch, capsys):
    # a read-only folder (here: its files refused as a read-only disk refuses them) is said before
    # the first run, not after the last one, when nothing can be saved
    import errno
    import tempfile

    import textcnn.bench

    monkeypatch.chdir(tmp_path)
    data = tiny_benchmarks(tmp_path)
    ro = tmp_path / "ro"
    ro.mkdir()
    readme = ro / "README.md"
    readme.write_text(f"{README_START}\nold\n{README_END}\n")
    mkstemp = tempfile.mkstemp

    def read_only(*args, dir=None, **kwargs):
        if dir is not None and Path(dir) == ro:
            raise OSError(errno.EROFS, "Read-only file system", str(ro / "x"))
        return mkstemp(*args, dir=dir, **kwargs)
    monkeypatch.setattr(tempfile, "mkstemp", read_only)

    def no_training(*args, **kwargs):
        raise AssertionError("a run started")
    monkeypatch.setattr(textcnn.bench, "run_unit", no_training)
    refused = f"no file can be created in {ro} (Read-only file system)"
    assert main(["cv", "--config", DEBUG, "--train-path", str(tiny_csv), "--folds", "2", "--variants", "rand",
                 "--out", str(ro / "new" / "cv.json")]) == 2
    assert f"{ro / 'new' / 'cv.json'}: --out: {refused}" in capsys.readouterr().err
    quick = ["--data-dir", str(data), "--datasets", "sst2", "--variants", "rand", "--baselines", "--epochs", "1",
             "--seeds", "1", "--vectors-en", str(tiny_glove)]
    assert f"{ro / 'bench.json'}: --out: {refused}" in _bench_error(capsys, *quick, "--out", str(ro / "bench"))
    assert f"{readme}: --readme: {refused}" in _bench_error(capsys, *quick, "--out", str(tmp_path / "bench"),
                                                            "--readme", str(readme))
    assert sorted(p.name for p in ro.iterdir()) == ["README.md"] and not (tmp_path / "runs").exists()


def test_a_run_whose_save_failed_is_not_counted_as_saved(tiny_glove, tiny_csv, tmp_path, monkeypatch, capsys):
    # a full disk at the second run's save: the message counts the runs the file holds (1), not
    # the runs finished (2)
    import errno

    import textcnn.bench

    monkeypatch.chdir(tmp_path)
    real = textcnn.bench.atomic_write
    writes = []

    def full_at_the_second_json(path, data, fsync=False):
        writes.append(Path(path).name)
        if writes.count(Path(path).name) == 2 and Path(path).suffix == ".json":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, data, fsync)
    monkeypatch.setattr(textcnn.bench, "atomic_write", full_at_the_second_json)
    assert main(["cv", "--config", DEBUG, "--train-path", str(tiny_csv), "--folds", "2", "--max-folds", "1",
                 "--epochs", "1", "--variants", "rand", "--baselines", "nb-lr", "--out", "cv.json"]) == 2
    err = capsys.readouterr().err
    assert "textcnn: 1 run finished and saved in cv.json;" in err and "cv.json: No space left on device" in err, err
    assert len(json.loads(Path("cv.json").read_text())["runs"]) == 1
    writes.clear()
    data = tiny_benchmarks(tmp_path)
    assert main(["bench", "--data-dir", str(data), "--datasets", "sst2", "--variants", "rand", "--baselines", "nb-lr",
                 "--epochs", "1", "--seeds", "1", "--vectors-en", str(tiny_glove), "--out", "b"]) == 2
    err = capsys.readouterr().err
    assert "textcnn: 1 run finished and saved in b.json;" in err and "b.json: No space left on device" in err, err
    assert len(json.loads(Path("b.json").read_text())["datasets"]["sst2"]["runs"]) == 1
