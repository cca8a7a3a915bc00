"""The `textcnn` command end to end on generated data: fit, test, predict, export, and the
bundle loaded by TextClassifier in a separate Python process."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from textcnn.cli import main

REPO = Path(__file__).resolve().parents[1]

DEBUG = str(REPO / "configs" / "debug.yaml")


def test_fast_dev_run_of_fit(tiny_csv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["fit", "--config", DEBUG, "--data.train_path", str(tiny_csv), "--trainer.fast_dev_run", "true"]) == 0
    assert not list(tmp_path.rglob("*.ckpt"))  # a smoke run keeps no checkpoint (Lightning's on_train_end saved one)


def test_fit_test_export_and_load_in_another_process(tiny_csv, tiny_glove, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(["fit", "--config", DEBUG, "--data.train_path", str(tiny_csv), "--data.vectors", str(tiny_glove),
                 "--data.embedding_dim", "null", "--model.variant", "multichannel", "--trainer.max_epochs", "3"])
    assert code == 0
    out = capsys.readouterr().out
    assert "macro-F1" in out and "confusion matrix" in out  # the test table after fit
    run = tmp_path / "runs" / "debug" / "multichannel" / "version_0"  # the folder follows --model.variant
    assert not (tmp_path / "runs" / "debug" / "rand").exists()  # not the config's own variant
    metrics = json.loads((run / "test_metrics.json").read_text())
    assert metrics["num_examples"] == 40 and (run / "confusion_matrix.png").is_file()
    best = sorted((run / "checkpoints").glob("best-*.ckpt"))
    assert len(best) == 1
    # the report names what it tested on what
    assert Path(metrics["checkpoint"]).name == best[0].name
    assert metrics["test_data"].startswith(f"0.2 of {tiny_csv} held out (split_seed ")
    # one training loss and accuracy per epoch in the CSV log (the accuracy is counted, not logged, per step)
    import csv

    logged = list(csv.DictReader((run / "metrics.csv").open(encoding="utf-8")))
    for key in ("train/acc", "train/loss_epoch"):
        values = [float(r[key]) for r in logged if r.get(key)]
        assert len(values) == 3 and all(0 <= v <= (1 if key == "train/acc" else 10) for v in values), key
    # each epoch's line shows that epoch's figures (the training loss had been the epoch before's)
    lines = [line.split() for line in out.splitlines() if line.startswith("epoch ")]
    shown = [(float(w[w.index("train/loss") + 1]), float(w[w.index("val/acc") + 1])) for w in lines]
    by_epoch = [{k: float(v) for r in logged if r["epoch"] == str(e) for k, v in r.items() if v} for e in range(3)]
    assert shown == [(round(m["train/loss_epoch"], 4), round(m["val/acc"], 4)) for m in by_epoch], (lines, logged)

    # validate and test again from the checkpoint, through the CLI
    args = ["--config", DEBUG, "--data.train_path", str(tiny_csv), "--data.vectors", str(tiny_glove),
            "--data.embedding_dim", "null", "--model.variant", "multichannel", "--ckpt_path", str(best[0])]
    assert main(["validate", *args]) == 0
    assert main(["test", *args]) == 0
    capsys.readouterr()
    # without a checkpoint, Lightning would score random weights: refused, naming the newest best one
    for command in ("validate", "test", "predict"):
        assert main([command, *args[:-2]]) == 2
        assert (f"textcnn {command} needs --ckpt_path, the checkpoint of a trained model (`textcnn fit` writes "
                f".../checkpoints/best-*.ckpt; the newest of this config: {best[0].relative_to(tmp_path)})"
                in capsys.readouterr().err)
    assert main(["test", *args[:-1], "best"]) == 2
    assert "--ckpt_path best: Lightning's name for a checkpoint of a fit in the same Python process" in capsys.readouterr().err
    # to resume, fit is pointed at last.ckpt, not at the best epoch (which would roll the run back)
    assert main(["fit", *args[:-1], "last"]) == 2
    assert (f"(the newest last of this config: {(run / 'checkpoints' / 'last.ckpt').relative_to(tmp_path)})"
            in capsys.readouterr().err)
    assert main(["fit", *args[:-2], "--trainer.max_epochs", "0"]) == 2
    assert "--trainer.max_epochs 0: fit needs at least one epoch" in capsys.readouterr().err
    assert main(["fit", *args[:-2], "--model.pool_k", "3"]) == 2
    assert ("--model.pool_k 3 is the k of kmax pooling; with --model.pooling max it would be ignored: add "
            "--model.pooling kmax, or leave --model.pool_k out") in capsys.readouterr().err
    # ddp_spawn would fail to pickle the command's objects, with a traceback: ddp is named instead
    assert main(["fit", *args[:-2], "--trainer.strategy", "ddp_spawn", "--trainer.devices", "2"]) == 2
    assert ("--trainer.strategy ddp_spawn: the textcnn command cannot hand its objects to spawned processes; use "
            "--trainer.strategy ddp" in capsys.readouterr().err)
    # options given with a checkpoint: the model stays the checkpoint's, and a warning says so; where
    # the reports go is the command's to say
    with pytest.warns(UserWarning, match=r"--ckpt_path: the model keeps the checkpoint's options, not those of "
                                         r"the config or the command: num_filters \d+ \(given: 30\)"):
        assert main(["test", *args, "--model.num_filters", "30", "--model.report_dir", "rep"]) == 0
    assert (tmp_path / "rep" / "test_metrics.json").is_file()

    # predict a file of texts to CSV
    texts = tmp_path / "texts.csv"
    texts.write_text("text\nthe film was great and lovely .\n\"boring , dull movie .\"\n", encoding="utf-8")
    preds = tmp_path / "preds.csv"
    assert main(["predict", *args, "--data.predict_path", str(texts),
                 "--prediction_writer.output_path", str(preds)]) == 0
    rows = preds.read_text(encoding="utf-8").splitlines()
    assert rows[0] == "line,text,label,p_positive,p_negative" and len(rows) == 3
    assert [r.split(",")[0] for r in rows[1:]] == ["2", "3"]  # where each text is in the input
    capsys.readouterr()  # CSV rows under another extension would mislead a reader of the file: refused
    assert main(["predict", *args, "--data.predict_path", str(texts),
                 "--prediction_writer.output_path", str(tmp_path / "preds.jsonl")]) == 2
    assert "preds.jsonl: the predictions are CSV; name the file .csv (JSONL: export a bundle" in capsys.readouterr().err
    assert not (tmp_path / "preds.jsonl").exists()

    bundle = tmp_path / "bundle"
    assert main(["export", "--ckpt", str(best[0]), "--out", str(bundle), "--metrics", "nofile.json"]) == 2
    assert "--metrics nofile.json: no such file; give the test_metrics.json" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="2"):  # which is the bundle? refused, not one silently ignored
        main(["export", "--ckpt", str(best[0]), "--bundle", str(run), "--out", str(bundle)])
    assert "--bundle goes with --format onnx alone" in capsys.readouterr().err
    assert not bundle.exists()
    assert main(["export", "--ckpt", str(best[0]), "--out", str(bundle), "--metrics", str(run / "test_metrics.json")]) == 0
    assert sorted(p.name for p in bundle.iterdir()) == ["model.safetensors", "textcnn.json"]

    script = (
        "import json, sys\n"
        "from textcnn import TextClassifier\n"
        "clf = TextClassifier.load(sys.argv[1], device='cpu')\n"
        "preds = clf.predict(['the film was great and lovely .', 'boring , dull movie .', ''])\n"
        "print(json.dumps([[p.label, p.probabilities] for p in preds]))\n"
    )
    # A fresh process in another folder: the bundle alone is enough, no training data needed.
    result = subprocess.run([sys.executable, "-c", script, str(bundle)], capture_output=True, text=True,
                            cwd=tmp_path.parent, check=True)
    out = json.loads(result.stdout)
    assert len(out) == 3
    for label, probs in out:
        assert set(probs) == {"positive", "negative"} and label in probs
        assert abs(sum(probs.values()) - 1) < 1e-5


def test_user_errors_exit_non_zero_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(["fit", "--config", DEBUG, "--data.train_path", str(tmp_path / "missing.csv")])
    err = capsys.readouterr().err
    assert code == 2 and "missing.csv" in err and "Traceback" not in err
    code = main(["export", "--ckpt", str(tmp_path / "none.ckpt"), "--out", str(tmp_path / "b")])
    assert code == 2 and "checkpoint not found" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_a_distributed_process_other_than_the_first_names_its_rank(tmp_path, monkeypatch, capsys):
    # each process of a DDP run prints the error it meets (an output path it cannot write, say)
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(rank_zero_only, "rank", 1)
    assert main(["export", "--ckpt", "none.ckpt", "--out", "b"]) == 2
    assert capsys.readouterr().err.startswith("textcnn: error (rank 1): none.ckpt: checkpoint not found")
    monkeypatch.setattr(rank_zero_only, "rank", 0)
    assert main(["export", "--ckpt", "none.ckpt", "--out", "b"]) == 2
    assert capsys.readouterr().err.startswith("textcnn: error: none.ckpt: checkpoint not found")


@pytest.mark.parametrize("given, meant", [("--model.varient=static", "--model.variant"),
                                          ("--data.train_pth", "--data.train_path"),
                                          ("--max_epochs", "--trainer.max_epochs"),
                                          ("--trainer.max_epoch", "--trainer.max_epochs")])  # no abbreviations
def test_a_mistyped_option_gets_a_suggestion(given, meant, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(["fit", "--config", DEBUG, given, "3"])
    (line,) = capsys.readouterr().err.splitlines()
    assert code == 2 and line.endswith(f"{given.split('=')[0]}: did you mean {meant}?"), line
    assert main(["fit", "--config", DEBUG, "--zzz", "3"]) == 2  # nothing close: no suggestion
    assert capsys.readouterr().err.strip() == "textcnn: error: unrecognized arguments: --zzz 3"


@pytest.mark.parametrize("argv, said", [
    (["clasify", "good"], "textcnn: error: unknown command 'clasify': did you mean classify? textcnn's commands are "
                          "fit, validate, test, predict, export, classify, demo, cv, bench (each takes --help)"),
    (["-c", DEBUG, "fit"], "textcnn: error: -c: give the config after the command, e.g. `textcnn fit --config "
                           "configs/mr.yaml`"),
    (["predict", "--config", DEBUG, "--input", "x.csv"],
     "--input and --output are `textcnn predict --bundle DIR`'s; with --ckpt_path: --data.predict_path FILE "
     "--prediction_writer.output_path FILE"),
    (["export", "--ck", "x.ckpt", "--out", "b"], "unrecognized arguments: --ck x.ckpt; --ck: did you mean --ckpt?"),
    (["predict", "--bundle", "b", "--inp", "x.csv", "--output", "-"],
     "the following arguments are required: --input; --inp: did you mean --input?"),
])
def test_a_mistyped_command_or_an_option_of_another_command_is_named(argv, said, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    try:
        code = main(argv)
    except SystemExit as stop:  # the argparse of textcnn's own commands exits
        code = stop.code
    assert code == 2 and said in capsys.readouterr().err


def test_a_mistake_in_a_config_file_names_the_file(tmp_path, monkeypatch, capsys):
    # jsonargparse names neither the file nor, for YAML, more than "<unicode string>"
    monkeypatch.chdir(tmp_path)
    for text, said in (("model:\n  varient: static\n",
                        "mine.yaml: model.varient is not an option of textcnn fit (did you mean model.variant?)"),
                       ("trainer:\n  max_epoch: 3\n",
                        "mine.yaml: trainer.max_epoch is not an option of textcnn fit (did you mean trainer.max_epochs?)"),
                       ("model:\n  variant: [static\n", "mine.yaml: not valid YAML at line 3, column 1: "),
                       ("optimizer: null\nlr_scheduler: null\nmodel:\n  optimizer: adam\n",
                        "mine.yaml: optimizer and lr_scheduler at the top level are not options of textcnn fit: the "
                        "optimizer is model.optimizer (with model.lr); a config printed by an earlier textcnn has "
                        "`optimizer: null` and `lr_scheduler: null` there: delete both lines")):
        (tmp_path / "mine.yaml").write_text(text, encoding="utf-8")
        for config in (["--config", "mine.yaml"], ["--config=mine.yaml"]):
            assert main(["fit", "--config", DEBUG, *config]) == 2
            (line,) = capsys.readouterr().err.splitlines()
            assert line.startswith(f"textcnn: error: {said}"), line


@pytest.mark.parametrize("padding, min_len", [("valid", 5), ("wide", 1)])
def test_batches_are_padded_only_to_what_the_model_needs(tiny_csv, tmp_path, monkeypatch, padding, min_len):
    from textcnn.cli import TextCNNCLI
    from textcnn.data import TextDataModule
    from textcnn.module import TextCNNModule

    monkeypatch.chdir(tmp_path)
    cli = TextCNNCLI(TextCNNModule, TextDataModule, run=False,
                     args=["--config", DEBUG, "--data.train_path", str(tiny_csv), "--model.kernel_sizes", "[2, 5]",
                           "--model.conv_padding", padding])
    assert cli.datamodule.hparams.min_len == min_len == cli.model.model.min_len


@pytest.mark.parametrize("value, expected", [("char", {"type": "char", "lowercase": True, "keep_runs": True,
                                                       "drop_invisible": True}),
                                             ("{type: char, keep_runs: false}",
                                              {"type": "char", "lowercase": True, "keep_runs": False,
                                               "drop_invisible": True})])
def test_tokenizer_is_a_name_or_a_mapping_with_options(tmp_path, monkeypatch, value, expected):
    from textcnn.cli import TextCNNCLI
    from textcnn.data import TextDataModule
    from textcnn.module import TextCNNModule

    monkeypatch.chdir(tmp_path)
    data = tmp_path / "zh.csv"
    rows = [("iPhone6发布2010年新款", "tech"), ("股市2011年大涨", "finance")] * 20
    data.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in rows), encoding="utf-8")
    cli = TextCNNCLI(TextCNNModule, TextDataModule, run=False,
                     args=["--config", DEBUG, "--data.train_path", str(data), "--data.tokenizer", value])
    dm = cli.datamodule
    dm.prepare()
    assert dm.meta()["tokenizer"] == expected  # what a checkpoint and a bundle store
    vocab = set(dm.meta()["vocab"])
    assert ({"2", "0", "1", "i", "6"} <= vocab) is not expected["keep_runs"]
    assert ({"iphone6", "2010"} <= vocab) is expected["keep_runs"]


def test_every_model_and_data_option_has_help(capsys):
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # unwrap the columns
    options = sorted(set(re.findall(r"--((?:model|data)\.[a-z_]+) [A-Z_]+", text)))
    assert len(options) > 30
    bare = [o for o in options if re.search(rf"--{re.escape(o)} [A-Z_]+(?: [^ ]+)? \(type:", text)]
    assert not bare, f"options without help text: {bare}"
    assert not re.findall(r"one of ``[A-Z_]+``", text), "help naming a Python constant instead of the values"


def test_the_best_checkpoint_is_named_by_its_metric_and_a_run_without_test_data_says_so(tiny_csv, tmp_path,
                                                                                         monkeypatch, capsys):
    import torch

    monkeypatch.chdir(tmp_path)
    base = ["fit", "--config", DEBUG, "--data.train_path", str(tiny_csv), "--trainer.max_epochs", "2",
            "--trainer.enable_progress_bar", "false"]
    assert main([*base, "--checkpoint.monitor", "val/macro_f1"]) == 0  # dev macro-F1 is logged, for imbalanced data
    out = capsys.readouterr().out
    best = re.search(r"best checkpoint \(val/macro_f1 (\d\.\d{4})\): (\S+)", out)
    assert best and Path(best[2]).name.endswith(f"-macro_f1_{best[1]}.ckpt"), best  # named by what it monitors
    epoch = int(re.search(r"best-epoch(\d+)", best[2])[1])  # and its value is on that epoch's line
    assert re.search(rf"^epoch {epoch}/2 .* val/macro_f1 {best[1]} ", out, re.M), out
    assert main([*base, "--data.test_fraction", "0"]) == 0
    out = capsys.readouterr().out
    assert "no test data, so nothing was tested: give --data.test_path or --data.test_fraction" in out
    assert "macro-F1" not in out
    if not torch.cuda.is_available():
        bundle = REPO / "checkpoints" / "mr-multichannel-glove50"
        assert main(["classify", "--bundle", str(bundle), "--device", "cuda", "a fine film"]) == 2
        assert "textcnn: error: device 'cuda': no CUDA GPU here" in capsys.readouterr().err
        assert main([*base, "--trainer.accelerator", "gpu"]) == 2  # Lightning's own error, as one line
        assert capsys.readouterr().err.startswith("textcnn: error: ")


def test_epochs_tied_on_dev_accuracy_keep_the_one_with_the_lowest_dev_loss(tmp_path, monkeypatch, capsys):
    import csv

    import torch

    monkeypatch.chdir(tmp_path)
    cues = {"billing": "charged twice refund invoice", "shipping": "package parcel delivery late",
            "technical": "app crashes error login"}
    rows = [(f"my {cues[k].split()[i % 4]} problem number {i}", k) for i in range(150) for k in [list(cues)[i % 3]]]
    data = tmp_path / "tickets.csv"
    with data.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("text", "label"), *rows])
    base = ["fit", "--config", DEBUG, "--data.train_path", str(data), "--trainer.max_epochs", "8",
            "--trainer.enable_progress_bar", "false", "--model.optimizer", "adam", "--model.lr", "0.01"]
    for tie_break, name in (("val/loss", "tied"), ("null", "first")):
        assert main([*base, "--checkpoint.tie_break", tie_break, "--trainer.logger.init_args.name", name]) == 0
        run = tmp_path / "runs" / "debug" / name / "version_0"
        epochs = [r for r in csv.DictReader((run / "metrics.csv").open()) if r.get("val/acc")]
        best = max(float(r["val/acc"]) for r in epochs)
        tied = [r for r in epochs if float(r["val/acc"]) == best]
        assert len(tied) > 1  # the data make several epochs tie
        kept = min(tied, key=lambda r: float(r["val/loss"])) if name == "tied" else tied[0]
        (ckpt,) = (run / "checkpoints").glob("best-*.ckpt")
        # named by the epoch as the epoch lines count it, from 1 (Lightning's own count is from 0)
        assert ckpt.name == f"best-epoch{int(kept['epoch']) + 1:02d}-acc{best:.4f}.ckpt", (ckpt.name, tied)
        if name == "tied":
            state = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
            (callback,) = [v for k, v in state["callbacks"].items() if k.startswith("Checkpoint")]
            ((path, value),) = callback["tie_values"].items()  # kept for a resumed run
            assert Path(path).name == ckpt.name and value == pytest.approx(float(kept["val/loss"]), rel=1e-5)


def test_a_fit_prints_no_lightning_advert_or_internal_deprecation(tiny_csv, tmp_path):
    data = tmp_path / "d.csv"
    data.write_text(tiny_csv.read_text(encoding="utf-8") + ",pos\n", encoding="utf-8")  # an empty text: a warning
    run = subprocess.run([sys.executable, "-m", "textcnn.cli", "fit", "--config", DEBUG, "--data.train_path",
                          str(data), "--trainer.max_epochs", "1", "--trainer.enable_progress_bar", "false"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    said = run.stdout + run.stderr
    assert "epoch 1/1" in said and "best checkpoint" in said
    for noise in ("litlogger", "LeafSpec", "smaller than the logging interval"):
        assert noise not in said, noise
    # textcnn's warnings name the data's file and line, not textcnn's source line that raised them
    assert f"UserWarning: {data}: skipped 1 example(s) with an empty text" in run.stderr
    assert "textcnn/data.py:" not in run.stderr and "self.prepare()" not in run.stderr


def test_a_checkpoint_tests_and_predicts_new_files_without_the_training_file_or_vectors(tiny_csv, tiny_glove,
                                                                                        tmp_path, monkeypatch, capsys,
                                                                                        caplog):
    from conftest import make_sentences, write_csv

    from textcnn import TextClassifier

    monkeypatch.chdir(tmp_path)
    data = ["--config", DEBUG, "--data.vectors", str(tiny_glove), "--data.embedding_dim", "null",
            "--model.variant", "multichannel", "--trainer.enable_progress_bar", "false"]
    assert main(["fit", *data, "--data.train_path", str(tiny_csv), "--trainer.max_epochs", "2",
                 "--test_after_fit", "false"]) == 0
    run = tmp_path / "runs" / "debug" / "multichannel" / "version_0"
    ckpt = str(next((run / "checkpoints").glob("best-*.ckpt")))
    assert main(["export", "--ckpt", ckpt, "--out", str(tmp_path / "bundle")]) == 0
    tiny_csv.unlink()  # neither is needed any more
    tiny_glove.unlink()
    capsys.readouterr()

    rows = make_sentences(60, seed=7)
    new = write_csv(tmp_path / "new.csv", rows)
    caplog.set_level("INFO", logger="textcnn")
    full_reads, load = [], torch.load
    monkeypatch.setattr(torch, "load", lambda f, *a, **kw: (kw.get("mmap") or full_reads.append(f), load(f, *a, **kw))[1])
    assert main(["test", *data, "--ckpt_path", ckpt, "--data.test_path", str(new)]) == 0
    monkeypatch.setattr(torch, "load", load)
    # the trainer's read; the hyper-parameters and data settings come from the file mapped, not read
    assert len(full_reads) == 1
    assert "test 60; vocabulary" in caplog.text and "from the checkpoint (the training file is not read)" in caplog.text
    metrics = json.loads((run.parent / "version_1" / "test_metrics.json").read_text())
    clf = TextClassifier.load(tmp_path / "bundle", device="cpu")
    right = sum(p.label == label for p, (_, label) in zip(clf.predict([t for t, _ in rows]), rows))
    assert metrics["num_examples"] == 60 and metrics["accuracy"] == pytest.approx(right / 60)

    texts = tmp_path / "texts.csv"
    texts.write_text("text\n" + "\n".join(t for t, _ in rows[:2]) + "\n\n" + "\n".join(t for t, _ in rows[2:5]) + "\n",
                     encoding="utf-8")  # a blank line: the rows after it keep their line numbers
    assert main(["predict", *data, "--ckpt_path", ckpt, "--data.predict_path", str(texts),
                 "--prediction_writer.output_path", str(tmp_path / "preds.csv")]) == 0
    written = (tmp_path / "preds.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert [line.split(",")[2] for line in written] == [p.label for p in clf.predict([t for t, _ in rows[:5]])]
    assert [int(line.split(",")[0]) for line in written] == [2, 3, 5, 6, 7]

    # the dev split is cut out of the training file: that needs the file, and says so
    assert main(["validate", *data, "--ckpt_path", ckpt]) == 2
    assert ("the val split is cut out of the training file (--data.val_fraction), so validate needs "
            "--data.train_path") in capsys.readouterr().err
    assert main(["validate", *data, "--ckpt_path", ckpt, "--data.val_path", str(new)]) == 0


@pytest.mark.parametrize("rich", [True, False])
def test_the_progress_bar_counts_epochs_from_1_like_the_epoch_lines(rich, tiny_csv, tmp_path, monkeypatch, capsys):
    import textcnn.cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(textcnn.cli, "_RICH_AVAILABLE", rich)
    assert main(["fit", "--config", DEBUG, "--data.train_path", str(tiny_csv), "--trainer.max_epochs", "2",
                 "--test_after_fit", "false"]) == 0
    captured = capsys.readouterr()
    out = (captured.out + captured.err).replace("\r", "\n")
    shown = [int(n) for n in re.findall(r"Epoch (\d+)", out)]
    # the bar counts 1 and 2 as the epoch lines do, never 0, not even for an instant (Lightning's own
    # bar counts 0 and 1)
    assert "epoch 2/2" in out and shown and 0 not in shown and shown[-1] == max(shown) == 2, out[-2000:]
    assert "v_num" not in out and "train/loss" in out  # the version is the run folder's; the metrics stay


def test_checkpoint_options_that_would_mislead_are_refused_or_named(tiny_csv, tiny_glove, tmp_path, monkeypatch,
                                                                    capsys, caplog):
    from conftest import make_sentences, write_csv

    monkeypatch.chdir(tmp_path)
    base = ["--config", DEBUG, "--trainer.enable_progress_bar", "false"]
    fit = ["fit", *base, "--data.train_path", str(tiny_csv), "--trainer.max_epochs", "2"]
    # a loss kept with mode max would be the worst epoch
    assert main([*fit, "--checkpoint.monitor", "val/loss"]) == 2
    assert "add --checkpoint.mode min" in capsys.readouterr().err
    # no best checkpoint kept: the test after fit says that it scores the last epoch's weights
    assert main([*fit, "--checkpoint.save_top_k", "0"]) == 0
    out = capsys.readouterr().out
    assert ("no best checkpoint was kept (no dev evaluation, --checkpoint.save_top_k 0, or checkpointing off): "
            "testing the weights of the last epoch trained, not the best by dev") in out and "accuracy" in out
    shutil.rmtree(tmp_path / "runs")
    # a misspelt monitor, of the checkpoint or of early stopping, is named before any epoch
    for option in (["--checkpoint.monitor", "val/accu"],
                   ["--trainer.callbacks+=EarlyStopping", "--trainer.callbacks.monitor", "val/accu"]):
        assert main([*fit, *option]) == 2
        err = capsys.readouterr().err
        assert "monitors 'val/accu', which textcnn does not log (did you mean val/acc?); it logs val/acc, " in err, err
        assert "Traceback" not in err and not list(tmp_path.rglob("*.ckpt")) and "epoch 1/" not in err
    # a fold and a test file at once: fit refuses the pair
    new = write_csv(tmp_path / "new.csv", make_sentences(30, seed=5))
    assert main([*fit, "--data.num_folds", "3", "--data.test_path", str(new)]) == 2
    assert "both --data.num_folds 3" in capsys.readouterr().err
    # custom names: Lightning's inserted metric names would be folders (val/acc=...)
    assert main([*fit, "--data.vectors", str(tiny_glove), "--data.embedding_dim", "null", "--model.variant", "static",
                 "--data.num_folds", "3", "--checkpoint.filename", "m-{epoch_number:02d}-{val/acc:.3f}"]) == 0
    run = tmp_path / "runs" / "debug" / "static" / "version_0"
    (ckpt,) = (run / "checkpoints").glob("m-*.ckpt")
    assert re.fullmatch(r"m-epoch_number=0[12]-val_acc=\d\.\d{3}\.ckpt", ckpt.name), ckpt.name
    capsys.readouterr()

    # a fold run's own config.yaml plus a test file: test scores that file
    caplog.set_level("INFO", logger="textcnn")
    test = ["test", "--config", str(run / "config.yaml"), "--ckpt_path", str(ckpt)]
    assert main([*test, "--data.test_path", str(new)]) == 0
    assert json.loads((run.with_name("version_1") / "test_metrics.json").read_text())["num_examples"] == 30
    # a shorter cap given now applies, the training cap otherwise
    assert main([*test, "--data.test_path", str(new), "--data.max_len", "2"]) == 0
    assert "texts cut to --data.max_len 2 tokens (trained with 1000)" in caplog.text
    # the held-out fold needs the training file, not the vectors the checkpoint's weights came from
    tiny_glove.unlink()
    assert main(test) == 0
    assert json.loads((run.with_name("version_3") / "test_metrics.json").read_text())["num_examples"] == 67
    capsys.readouterr()

    # a checkpoint path that is not a checkpoint file
    last = run / "checkpoints" / "last.ckpt"
    for given, said in [(run / "checkpoints" / "lats.ckpt", f"checkpoint not found; did you mean {last}?"),
                        (run / "checkpoints" / "best-....ckpt", f"checkpoint not found; did you mean {ckpt}?"),
                        (run, f"is a folder; give a .ckpt file in it (e.g. {ckpt})")]:
        assert main(["test", *base, "--ckpt_path", str(given), "--data.test_path", str(new)]) == 2
        assert capsys.readouterr().err.strip() == f"textcnn: error: {given}: {said}"
    assert main(["test", *base, "--checkpoint", str(ckpt), "--data.test_path", str(new)]) == 2
    assert "not a YAML file" in (err := capsys.readouterr().err) and "a checkpoint goes to --ckpt_path" in err


def test_the_command_without_torch_or_lightning_says_what_to_install():
    script = ("import sys; sys.modules['lightning'] = None\n"  # as in an install for model.onnx only
              "from textcnn.console import main; sys.exit(main(['fit']))")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.startswith("textcnn: error: the textcnn command needs the full install (lightning is not")


def test_version_is_printed_without_importing_torch():
    from textcnn import __version__

    script = ("import sys; from textcnn.console import main; main(['--version']); main(['--debug', '-V']); "
              "print('torch' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout == f"textcnn {__version__}\n" * 2 + "False\n", run.stderr


def test_the_demo_outside_a_checkout_or_without_gradio_says_what_to_do(tmp_path, monkeypatch, capsys):
    import textcnn.cli

    monkeypatch.setitem(sys.modules, "gradio", None)  # as where it is not installed
    assert main(["demo"]) == 2
    assert capsys.readouterr().err == 'textcnn: error: the demo needs gradio: pip install -e ".[demo]" (or pip ' \
                                      'install "gradio>=6.0")\n'
    script = ("import sys, runpy; sys.modules['gradio'] = None; sys.argv = ['app.py']; "
              f"runpy.run_path({str(REPO / 'app.py')!r}, run_name='__main__')")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and run.stderr == 'app.py needs gradio: pip install -e ".[demo]" (or pip install ' \
                                                 '"gradio>=6.0")\n', run.stderr
    # installed from a wheel, the package's parent is site-packages, where an app.py is some other package's
    site = tmp_path / "site-packages"
    (site / "textcnn").mkdir(parents=True)
    (site / "app.py").write_text("raise SystemExit('not the demo')\n")
    monkeypatch.setattr(textcnn.cli, "__file__", str(site / "textcnn" / "cli.py"))
    assert main(["demo"]) == 2
    assert capsys.readouterr().err.startswith(f"textcnn: error: {site}: not a checkout of textcnn; the demo is the "
                                              "repository's app.py, which an installed package does not have")


@pytest.mark.parametrize("module", ["textcnn", "textcnn.console"])
def test_python_m_runs_the_command(module):
    run = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.startswith("usage: textcnn "), run.stdout[:200] + run.stderr


def test_top_level_help_shows_the_commands_and_not_the_options_refused_before_them(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert out.startswith("usage: textcnn {fit,validate,test,predict,export,classify,demo,cv,bench} [--help] ...")
    assert "--config" not in out and "--print_config" not in out  # given after the command
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    assert "--config CONFIG" in capsys.readouterr().out  # after the command, where it belongs


def test_predict_help_names_both_forms(capsys):
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    out = capsys.readouterr().out
    assert out.startswith("textcnn predict has two forms: with a bundle, `textcnn predict --bundle DIR --input FILE")
    assert "--data.predict_path" in out  # then LightningCLI's own help
    text = " ".join(out.split())
    assert "--ckpt_path CKPT_PATH the checkpoint file (.ckpt) to predict with" in text and '"best"' not in text


def test_a_mistyped_checkpoint_name_gets_the_closest_one(tmp_path):
    from textcnn.fileio import checkpoint_not_there

    for name in ("best-epoch03-acc0.8100.ckpt", "best-epoch05-acc0.8000.ckpt", "last.ckpt"):
        (tmp_path / name).write_bytes(b"x")
    for given, meant in [("best-epoch03-acc0.81.ckpt", "best-epoch03-acc0.8100.ckpt"), ("lats.ckpt", "last.ckpt"),
                         ("best-....ckpt", "best-epoch05-acc0.8000.ckpt")]:  # the README's placeholder: a best one
        assert checkpoint_not_there(tmp_path / given).endswith(f"did you mean {tmp_path / meant}?"), given


def test_classify_reads_texts_from_arguments_or_standard_input(monkeypatch, capsys):
    import io

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    mr = REPO / "checkpoints" / "mr-multichannel-glove50"
    thucnews = REPO / "checkpoints" / "thucnews-nonstatic-char200"
    monkeypatch.setattr("sys.stdin", io.StringIO("a gorgeous, witty film\n\nan overlong, dull mess\n"))
    assert main(["classify", "--bundle", str(mr)]) == 0  # piped: one text a line, blank lines skipped
    captured = capsys.readouterr()
    lines = captured.out.splitlines()  # one line per text; the model's description goes to stderr
    assert [line.split()[0] for line in lines] == ["positive", "negative"] and lines[1].endswith("dull mess")
    assert captured.err.startswith("TextClassifier(")
    # old Mac line ends (a lone CR) end lines as in files; a line that is not UTF-8 is named and left out
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(
        b"\xef\xbb\xbfa gorgeous, witty film\ran overlong, dull mess\r\na caf\xe9 gem\r\n\rawful\n")))
    assert main(["classify", "--bundle", str(mr), "-"]) == 0
    captured = capsys.readouterr()
    assert [line.split()[0] for line in captured.out.splitlines()] == ["positive", "negative", "negative"]
    assert [line.rsplit("]  ", 1)[1] for line in captured.out.splitlines()] == [
        "a gorgeous, witty film", "an overlong, dull mess", "awful"]
    assert "standard input, line 3: byte 0xe9 is not valid UTF-8; not classified" in captured.err
    assert "1 line(s) of standard input were not UTF-8 and not classified (line(s) 3): re-encode" in captured.err
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO("上海房价上涨\n股市大跌\n".encode("gb18030"))))
    with pytest.raises(SystemExit, match="2"):  # the encoding its bytes read as, named
        main(["classify", "--bundle", str(thucnews), "-"])
    err = capsys.readouterr().err
    assert "it reads as Chinese GBK / GB18030: `iconv -f gb18030" in err
    assert "no line of standard input could be read as UTF-8" in err
    with pytest.raises(SystemExit, match="2"):
        main(["classify", "--bundle", str(mr), "a fine film", " "])
    assert "text 2 is empty" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("上海房价上涨\n"))
    assert main(["classify", "--bundle", str(thucnews), "-"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.endswith("上海房价上涨")
    # 10 labels: the 5 most probable, best first, and how many more
    shown = [float(p) for p in re.findall(r" (\d\.\d{3})", line.split("[", 1)[1].split("]")[0])]
    assert len(shown) == 5 and shown == sorted(shown, reverse=True) and "  +5 more]" in line
    assert line.split()[0] == line.split("[", 1)[1].split()[0]  # the label is the first shown
    assert main(["classify", "--bundle", str(thucnews), "--top-k", "10", "国足主帅公布世界杯预选赛大名单"]) == 0
    assert "more]" not in capsys.readouterr().out
    assert main(["classify", "--bundle", str(thucnews), "--json", "国足主帅公布世界杯预选赛大名单", "股市大跌"]) == 0
    rows = [json.loads(l) for l in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in rows] == ["国足主帅公布世界杯预选赛大名单", "股市大跌"] and rows[0]["label"] == "sports"
    assert len(rows[0]["probabilities"]) == 10 and abs(sum(rows[0]["probabilities"].values()) - 1) < 1e-5
    with pytest.raises(SystemExit, match="2"):
        main(["classify", "--bundle", str(mr), "--top-k", "0", "a fine film"])
    assert "--top-k must be a positive integer, got 0" in capsys.readouterr().err
    # at a terminal with no text: the English example sentences only go to the English model
    monkeypatch.setattr("sys.stdin", Terminal())
    with pytest.raises(SystemExit, match="2"):
        main(["classify", "--bundle", str(thucnews)])
    assert "give the texts to classify, or - to read them from standard input" in capsys.readouterr().err
    assert main(["classify", "--bundle", str(mr)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 4  # the example sentences
    with pytest.raises(SystemExit, match="2"):
        main(["classify", "--bundle", str(mr), "-", "a text"])
    assert "- (standard input) stands alone" in capsys.readouterr().err


def test_app_py_takes_the_demo_commands_options_and_help_starts_no_server():
    # `python app.py --help` used to load every model and start the server, ignoring --help
    env = {**os.environ, "TEXTCNN_CHECKPOINTS": "/nonexistent"}  # a model load would fail
    shown = subprocess.run([sys.executable, str(REPO / "app.py"), "--help"], capture_output=True, text=True,
                           timeout=120, env=env)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "--port" in shown.stdout and "--checkpoints" in shown.stdout and "Running on" not in shown.stdout
    assert shown.stdout.startswith("usage: python app.py ")  # the command that was typed
    wrong = subprocess.run([sys.executable, str(REPO / "app.py"), "--prot", "8000"], capture_output=True, text=True,
                           timeout=120, env=env)
    assert wrong.returncode == 2 and "--prot" in wrong.stderr and "no model bundles" not in wrong.stderr


def test_a_file_that_cannot_be_written_is_one_line_and_a_closed_pipe_ends_quietly(tiny_bundle_dir, tmp_path,
                                                                                  monkeypatch, capsys):
    import textcnn.predict

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied", "ro/out.csv")

    monkeypatch.setattr(textcnn.predict, "predict_file", refused)
    src = tmp_path / "in.txt"
    src.write_text("a good film\n", encoding="utf-8")
    assert main(["predict", "--bundle", str(tiny_bundle_dir), "--input", str(src), "--output", "ro/out.csv"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == "textcnn: error: ro/out.csv: Permission denied"
    monkeypatch.undo()
    # `... --output - | head -1`: the reader goes away; no traceback, the exit code of a closed pipe
    src.write_text("a good film\n" * 20_000, encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "textcnn.cli", "predict", "--bundle", str(tiny_bundle_dir),
                             "--input", str(src), "--output", "-", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().startswith("line,text,label")
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 141 and "Traceback" not in err and "Error" not in err, err[-2000:]


def test_classify_answers_each_line_of_a_live_stream_as_it_comes():
    import select

    proc = subprocess.Popen([sys.executable, "-m", "textcnn.cli", "classify", "--bundle",
                             str(REPO / "checkpoints" / "mr-multichannel-glove50"), "-"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        proc.stdin.write("a gorgeous, witty film\n")
        proc.stdin.flush()  # and keep the pipe open: the answer must not wait for the end of input
        ready = select.select([proc.stdout], [], [], 120)[0]
        assert ready, "no answer while the input stayed open"
        assert proc.stdout.readline().split()[0] == "positive"
        proc.stdin.write("an overlong, dull mess\n")
        proc.stdin.close()
        assert proc.stdout.readline().split()[0] == "negative"
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_an_epoch_without_validation_shows_no_dev_figures_of_an_earlier_one(tiny_csv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["fit", "--config", DEBUG, "--data.train_path", str(tiny_csv), "--trainer.max_epochs", "3",
                 "--trainer.check_val_every_n_epoch", "2", "--trainer.enable_progress_bar", "false"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch ")]
    assert len(lines) == 3
    assert "val/" not in lines[0] and "val/" not in lines[2], lines  # epochs 1 and 3: not validated
    assert "train/loss" in lines[0] and "val/acc" in lines[1], lines


def test_the_epoch_seconds_leave_the_dev_evaluation_out(tiny_csv, monkeypatch):
    # what the epoch lines and `textcnn bench` report as seconds of training: not the validation
    import time

    import lightning as L

    from textcnn.cli import EpochSummary
    from textcnn.data import TextDataModule
    from textcnn.module import TextCNNModule

    dm = TextDataModule(train_path=str(tiny_csv), val_fraction=0.2, test_fraction=0.2, batch_size=16,
                        embedding_dim=16, min_len=3)
    module = TextCNNModule(vocab_size=dm.vocab_size, num_classes=dm.num_classes, embed_dim=16, variant="rand",
                           kernel_sizes=[2, 3], num_filters=8)
    step = module.validation_step

    def slow(*args, **kwargs):
        time.sleep(0.5)
        return step(*args, **kwargs)
    monkeypatch.setattr(module, "validation_step", slow)
    timer = EpochSummary(enabled=False)
    L.Trainer(accelerator="cpu", devices=1, max_epochs=2, logger=False, enable_checkpointing=False,
              enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
              limit_val_batches=1, callbacks=[timer]).fit(module, dm)
    # (the first epoch also holds torch's warm-up)
    assert len(timer.seconds) == 2 and timer.seconds[1] < 0.4, timer.seconds


def test_rows_skipped_for_an_empty_text_are_counted_in_the_test_report(tiny_csv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    base = ["--config", DEBUG, "--data.train_path", str(tiny_csv), "--trainer.enable_progress_bar", "false"]
    assert main(["fit", *base, "--trainer.max_epochs", "1", "--test_after_fit", "false"]) == 0
    (best,) = tmp_path.rglob("best-*.ckpt")
    test = tmp_path / "test.csv"
    test.write_text("text,label\na lovely film,positive\n\" \",negative\na dull film,negative\n,positive\n",
                    encoding="utf-8")
    capsys.readouterr()
    with pytest.warns(UserWarning, match=r"skipped 2 example\(s\) with an empty text \(line\(s\) 3, 5\)"):
        assert main(["test", *base, "--ckpt_path", str(best), "--data.test_path", str(test)]) == 0
    out = capsys.readouterr().out
    assert "(2 examples; 2 rows with an empty text skipped)" in out, out
    written = next(l for l in out.splitlines() if l.startswith("test metrics written to "))
    report = json.loads(Path(written.split()[4]).read_text())
    assert report["num_examples"] == 2 and report["empty_texts_skipped"] == 2 and report["test_data"] == str(test)
