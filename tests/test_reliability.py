"""Bad input through the `textcnn` command: one line on stderr naming the file / line / field and
what to do, exit status 2, no traceback (unless --debug), no checkpoint or run folder left behind.
The readers' own messages are tested in test_data.py and test_embeddings.py; here, what the
user of the command sees."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import make_sentences, write_csv
from textcnn.cli import PredictionWriter, main
from textcnn.checkpoint_io import AtomicCheckpointIO

REPO = Path(__file__).resolve().parents[1]
DEBUG = str(REPO / "configs" / "debug.yaml")


def run_cli(args, capsys):
    """(exit status, stderr) of ``textcnn ARGS`` run in this process."""
    code = main(args)
    return code, capsys.readouterr().err


def assert_clean_failure(code, err, tmp_path, *expected):
    lines = [l for l in err.splitlines() if l.startswith("textcnn: error:")]
    assert code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    for text in expected:
        assert text in lines[0], lines[0]
    assert not list(tmp_path.rglob("*.ckpt")), "a failed run left a checkpoint behind"
    assert not (tmp_path / "runs").exists() or not any(p.is_file() for p in (tmp_path / "runs").rglob("*"))


def fit(path, *extra):
    return ["fit", "--config", DEBUG, "--data.train_path", str(path), "--trainer.enable_progress_bar", "false", *extra]


import codecs
import gzip

BAD_TRAIN_FILES = {
    "empty": (b"", ["empty.csv", "no examples"]),
    "header_only": (b"text,label\n", ["header_only.csv", "no examples", "only a header"]),
    "no_text_column": (b"sentence,label\na,1\n", ["no_text_column.csv, line 1", "no column 'text'", "text_column"]),
    "no_label_column": (b"text,class\na,1\n", ["no_label_column.csv, line 1", "no column 'label'", "label_column"]),
    "blank_texts": (b'text,label\n"  ",1\n,0\n" \t ",1\n', ["blank_texts.csv", "all 3 texts are empty"]),
    "single_class": (b"text,label\n" + b"".join(b"film %d,pos\n" % i for i in range(20)),
                     ["single_class.csv", "single label 'pos'", "at least two classes"]),
    "not_utf8": (b"text,label\ngood,1\ncaf\xe9 bad,0\n", ["not_utf8.csv, line 3", "not valid UTF-8", "iconv"]),
    "unclosed_quote": (b'text,label\ngood,1\n"bad film,0\nfine,1\n', ["unclosed_quote.csv, line 3", "never closed"]),
    "utf16": (codecs.BOM_UTF16_LE + "text,label\ngood,1\n".encode("utf-16-le"),
              ["utf16.csv, line 1", "UTF-16", "iconv -f utf-16"]),
    "utf16_no_bom": ("text,label\ngood,1\n".encode("utf-16-le"),
                     ["utf16_no_bom.csv, line 1", "looks UTF-16 without a byte-order mark", "iconv -f utf-16le"]),
    "utf32": (codecs.BOM_UTF32_LE + "text,label\ngood,1\n".encode("utf-32-le"),
              ["utf32.csv, line 1", "the file is UTF-32", "iconv -f utf-32"]),
    "gzip": (gzip.compress(b"text,label\ngood,1\nbad,0\n"), ["gzip.csv", "gzip-compressed", "gunzip"]),
    "label_with_line_break": (b'text,label\ngood,pos\nbad,"neg\nmore"\n',
                              ["label_with_line_break.csv, line 3", "label 'neg\\nmore' holds a line break, tab",
                               "is a quote left open"]),
}


@pytest.mark.parametrize("name", BAD_TRAIN_FILES)
def test_bad_training_file(name, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    content, expected = BAD_TRAIN_FILES[name]
    path = tmp_path / f"{name}.csv"
    path.write_bytes(content)
    assert_clean_failure(*run_cli(fit(path), capsys), tmp_path, *expected)


def test_a_non_finite_jsonl_label_is_refused_not_made_a_class(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "d.jsonl"
    rows = [json.dumps({"text": t, "label": l}) for t, l in make_sentences(30)] + ['{"text": "odd", "label": NaN}']
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert_clean_failure(*run_cli(fit(path), capsys), tmp_path, "d.jsonl, line 31", "finite number", "nan")


def test_a_test_label_never_seen_in_training(tiny_csv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    test = tmp_path / "test.csv"
    test.write_text("text,label\ngood film,positive\nso-so film,neutral\n", encoding="utf-8")
    code, err = run_cli(fit(tiny_csv, "--data.test_path", str(test)), capsys)
    assert_clean_failure(code, err, tmp_path, "test.csv, line 3", "label 'neutral'", "fix the label")


def test_blank_texts_among_good_ones_are_skipped_with_a_warning(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = write_csv(tmp_path / "d.csv", make_sentences(60) + [("   ", "positive"), ("", "negative")])
    with pytest.warns(UserWarning, match="skipped 2 example"):
        assert main(fit(path, "--trainer.fast_dev_run", "true")) == 0


def test_a_1_mb_text_is_read_and_trained_on(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    big = ("good film and story " * 52_000)[:1_000_000]
    path = write_csv(tmp_path / "d.csv", make_sentences(60) + [(big, "positive")])
    # max_len bounds the memory of a batch that holds the huge text
    assert main(fit(path, "--trainer.fast_dev_run", "true", "--data.max_len", "500")) == 0


def _vectors_case(tmp_path, tiny_glove, kind):
    if kind == "wrong_dim_line":
        lines = tiny_glove.read_text(encoding="utf-8").splitlines()
        lines[2] = " ".join(lines[2].split()[:-3])
        path = tmp_path / "bad.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        word = lines[2].split()[0]
        return path, [], ["bad.txt, line 3", f"word {word!r}", "expected 16"]
    if kind == "truncated_binary":
        rows = [line.split() for line in tiny_glove.read_text(encoding="utf-8").splitlines()]
        body = f"{len(rows)} 16\n".encode() + b"".join(
            r[0].encode() + b" " + np.asarray(r[1:], dtype="<f4").tobytes() for r in rows)
        path = tmp_path / "cut.bin"
        path.write_bytes(body[:-10])
        return path, [], ["cut.bin", "bytes"]
    # vectors of dimension 16 against --data.embedding_dim 300
    return tiny_glove, ["--data.embedding_dim", "300"], [tiny_glove.name, "dimension 16", "--data.embedding_dim is 300"]


@pytest.mark.parametrize("kind", ["wrong_dim_line", "truncated_binary", "dim_differs_from_config"])
def test_bad_vectors(kind, tiny_csv, tiny_glove, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path, extra, expected = _vectors_case(tmp_path, tiny_glove, kind)
    args = fit(tiny_csv, "--data.vectors", str(path), "--model.variant", "static", *extra)
    if "--data.embedding_dim" not in extra:
        args += ["--data.embedding_dim", "null"]
    assert_clean_failure(*run_cli(args, capsys), tmp_path, *expected)


@pytest.mark.parametrize("option, value, expected", [
    ("--model.variant", "dynamic", ["unknown variant 'dynamic'", "multichannel"]),
    ("--model.act_layer", "swishy", ["unknown activation 'swishy'", "relu"]),
    ("--model.pooling", "median", ["unknown pooling 'median'", "kmax"]),
    ("--model.optimizer", "rmsprop", ["unknown optimizer 'rmsprop'", "adadelta"]),
    ("--data.tokenizer", "bpe", ["unknown tokenizer 'bpe'", "word, char"]),
    ("--model.num_filters", "many", ['"model.num_filters"', "many"]),
    ("--model.dropout", "0.3", ["unrecognized arguments: --model.dropout"]),
    ("--model.num_filters", "-5", ["num_filters and embed_dim must be at least 1", "-5"]),
    ("--model.num_filters", "0", ["num_filters and embed_dim must be at least 1"]),
    ("--data.max_len", "-3", ["--data.max_len must be at least 1, got -3", "null for no limit"]),
    ("--data.max_len", "0", ["--data.max_len must be at least 1, got 0"]),
    ("--data.eval_batch_size", "0", ["--data.eval_batch_size must be at least 1"]),
    ("--data.vectors_vocab", "-5", ["--data.vectors_vocab must be at least 0, got -5"]),
    ("--data.vectors_scale", "0", ["--data.vectors_scale must be a positive number", "got 0"]),
    ("--data.vectors_scale", "-0.1", ["--data.vectors_scale must be a positive number", "got -0.1"]),
    # refused with no --data.vectors too (they were accepted, and ignored, then)
    ("--data.unk_init", "normal", ["--data.unk_init 'normal': expected one of matched, uniform:<a>"]),
    ("--data.vectors_format", "bogus", ["--data.vectors_format 'bogus': expected one of auto, word2vec"]),
    ("--data.min_freq", "1000", ["tiny.csv", "--data.min_freq 1000", "vocabulary would be empty"]),
    ("--data.val_fraction", "0", ["no val data for fit", "--data.val_fraction"]),
])
def test_bad_config_values(option, value, expected, tiny_csv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert_clean_failure(*run_cli(fit(tiny_csv, option, value), capsys), tmp_path, *expected)


def test_a_text_vectors_file_named_binary_is_refused_not_read_as_garbage(tiny_csv, tiny_glove, tmp_path,
                                                                           monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    lines = tiny_glove.read_text(encoding="utf-8").splitlines()
    vec = tmp_path / "vec.txt"
    vec.write_text(f"{len(lines)} 16\n" + "\n".join(lines) + "\n", encoding="utf-8")
    args = fit(tiny_csv, "--model.variant", "static", "--data.embedding_dim", "null", "--data.vectors", str(vec),
               "--data.vectors_format", "word2vec")
    assert_clean_failure(*run_cli(args, capsys), tmp_path, "vec.txt", "'word2vec' (binary)", "word2vec-text")
    # the same through --data.vectors_vocab, which reads the file's first words before the rest
    code, err = run_cli([*args, "--data.vectors_vocab", "5"], capsys)
    assert_clean_failure(code, err, tmp_path, "vec.txt", "'word2vec' (binary)")


def test_bad_values_in_a_config_file(tiny_csv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "my.yaml"
    cfg.write_text("model:\n  act_layer: swishy\n", encoding="utf-8")
    code, err = run_cli(fit(tiny_csv, "--config", str(cfg)), capsys)
    assert_clean_failure(code, err, tmp_path, "unknown activation 'swishy'")
    code, err = run_cli(fit(tiny_csv, "--config", str(tmp_path / "missing.yaml")), capsys)
    assert_clean_failure(code, err, tmp_path, "missing.yaml", "does not exist")


def test_a_setup_failure_leaves_no_run_folder(tiny_csv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    # refused in the module's setup, after the trainer made its run folder
    code, err = run_cli(fit(tiny_csv, "--model.variant", "static"), capsys)
    assert_clean_failure(code, err, tmp_path, "needs pretrained vectors", "--data.vectors")
    assert not list((tmp_path / "runs").rglob("config.yaml"))


def test_an_absurd_learning_rate_stops_with_a_clear_message(tiny_csv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, err = run_cli(fit(tiny_csv, "--model.optimizer", "sgd", "--model.lr", "1e30", "--model.max_norm", "null"),
                        capsys)
    assert_clean_failure(code, err, tmp_path, "training loss became", "lower the learning rate")
    assert "at epoch 1, step" in err  # counted from 1, as the epoch lines count


def test_a_bundle_whose_weights_do_not_match_its_json(tmp_path, capsys):
    from test_export import tiny_bundle

    path, _ = tiny_bundle(tmp_path / "b")
    cfg = json.loads((path / "textcnn.json").read_text())
    cfg["model"]["num_filters"] = 7
    (path / "textcnn.json").write_text(json.dumps(cfg))
    code, err = run_cli(["classify", "--bundle", str(path), "good film"], capsys)
    assert_clean_failure(code, err, tmp_path, "model.safetensors", "weights do not match textcnn.json", "re-export")


def test_the_console_command_fails_without_traceback_and_debug_shows_it(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"text,label\ncaf\xe9,1\n")
    cmd = [sys.executable, "-m", "textcnn.cli", "fit", "--config", DEBUG, "--data.train_path", str(bad)]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("textcnn: error: ")
    assert "bad.csv, line 2" in result.stderr
    result = subprocess.run([*cmd, "--debug"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" in result.stderr and "DataError" in result.stderr
    assert not (tmp_path / "runs").exists()


# -- checkpoints -------------------------------------------------------------------------------


class Unsaveable:
    def __reduce__(self):
        raise RuntimeError("disk full")  # a save that fails half-way


def test_a_failed_checkpoint_save_leaves_nothing_and_keeps_the_old_file(tmp_path):
    io = AtomicCheckpointIO()
    path = tmp_path / "ckpts" / "last.ckpt"
    io.save_checkpoint({"epoch": 1, "state_dict": {"w": torch.ones(3)}}, path)
    with pytest.raises(RuntimeError, match="disk full"):
        io.save_checkpoint({"epoch": 2, "w": torch.zeros(1000), "bad": Unsaveable()}, path)
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]  # no temporary file
    assert io.load_checkpoint(path)["epoch"] == 1  # the old checkpoint, complete
    with pytest.raises(RuntimeError, match="disk full"):
        io.save_checkpoint({"bad": Unsaveable()}, tmp_path / "ckpts" / "new.ckpt")
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]


def test_checkpoints_of_a_run_load_with_weights_only(tiny_csv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(fit(tiny_csv, "--trainer.max_epochs", "1", "--test_after_fit", "false")) == 0
    ckpts = sorted((tmp_path / "runs").rglob("*.ckpt"))
    assert {p.name.split("-")[0] for p in ckpts} == {"best", "last.ckpt"}
    for path in ckpts:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)  # no pickled code needed
        assert ckpt["textcnn"]["data"]["labels"] == ["positive", "negative"]
    assert not [p for p in tmp_path.rglob("*.tmp")]


class Payload:
    """A class a malicious checkpoint could name so that loading runs its code."""


def test_checkpoint_loading_refuses_pickled_objects(tmp_path):
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "payload": Payload()}, path)
    with pytest.raises(Exception, match="Weights only load failed"):
        AtomicCheckpointIO().load_checkpoint(path)


def test_a_bundle_loads_without_pickle(tmp_path, monkeypatch):
    import pickle

    from test_export import tiny_bundle
    from textcnn import TextClassifier

    path, _ = tiny_bundle(tmp_path / "b")

    def refuse(*args, **kwargs):
        raise AssertionError("a bundle must load without pickle")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    probs = TextClassifier.load(path, device="cpu").predict_proba(["good film"])
    assert probs.shape == (1, 2)


@pytest.mark.parametrize("kind", ["garbage", "truncated", "foreign"])
def test_a_bad_ckpt_path_gets_one_line(kind, tiny_csv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / f"{kind}.ckpt"
    if kind == "garbage":
        path.write_bytes(np.random.default_rng(0).bytes(5000))
    elif kind == "foreign":
        torch.save({"a": torch.zeros(3)}, path)
    else:
        assert main(fit(tiny_csv, "--trainer.max_epochs", "1", "--test_after_fit", "false")) == 0
        whole = next((tmp_path / "runs").rglob("last.ckpt")).read_bytes()
        path.write_bytes(whole[: len(whole) // 2])
        capsys.readouterr()
    code, err = run_cli(["test", "--config", DEBUG, "--data.train_path", str(tiny_csv), "--ckpt_path", str(path)],
                        capsys)
    lines = [l for l in err.splitlines() if l.startswith("textcnn: error:")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert f"{kind}.ckpt" in lines[0]
    assert ("not a training checkpoint" if kind == "foreign" else "cannot read the checkpoint") in lines[0]


def test_lightning_predict_never_writes_over_its_input_or_into_a_folder(tiny_csv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(fit(tiny_csv, "--trainer.max_epochs", "1", "--test_after_fit", "false")) == 0
    ckpt = str(next((tmp_path / "runs").rglob("last.ckpt")))
    texts = tmp_path / "texts.csv"
    texts.write_text("text\na good film\na dull film\n", encoding="utf-8")
    before = texts.read_bytes()
    base = ["predict", "--config", DEBUG, "--data.train_path", str(tiny_csv), "--ckpt_path", ckpt,
            "--data.predict_path", str(texts)]
    code, err = run_cli([*base, "--prediction_writer.output_path", str(tmp_path / "." / "texts.csv")], capsys)
    assert code == 2 and "would overwrite the texts" in err and texts.read_bytes() == before, err
    (tmp_path / "adir").mkdir()
    code, err = run_cli([*base, "--prediction_writer.output_path", str(tmp_path / "adir")], capsys)
    assert code == 2 and "adir: is a folder" in err and not any((tmp_path / "adir").iterdir()), err

    # stopped half-way (Ctrl-C after the first batch): no part of a predictions file is left
    texts.write_text("text\n" + "a good film\n" * 40, encoding="utf-8")
    write = PredictionWriter.write_on_batch_end

    def interrupted(self, trainer, *args):
        write(self, trainer, *args)
        if args[4] == 0:  # batch_idx: the first batch written
            os.kill(os.getpid(), signal.SIGINT)
    monkeypatch.setattr(PredictionWriter, "write_on_batch_end", interrupted)
    with pytest.raises(SystemExit) as stopped:
        main([*base, "--prediction_writer.output_path", str(tmp_path / "adir" / "preds.csv")])
    err = capsys.readouterr().err
    assert stopped.value.code == 130 and "predict stopped by Ctrl-C" in err, err
    assert not any((tmp_path / "adir").iterdir())
    monkeypatch.setattr(PredictionWriter, "write_on_batch_end", write)
    # a link: its target is written, the link stays; "-": standard output
    (tmp_path / "adir" / "link.csv").symlink_to(tmp_path / "target.csv")
    assert main([*base, "--prediction_writer.output_path", str(tmp_path / "adir" / "link.csv")]) == 0
    assert (tmp_path / "adir" / "link.csv").is_symlink() and len((tmp_path / "target.csv").read_text().splitlines()) == 41
    capsys.readouterr()
    assert main([*base, "--prediction_writer.output_path", "-"]) == 0
    said = capsys.readouterr()
    assert said.out.encode() == (tmp_path / "target.csv").read_bytes() and \
        "predictions written to standard output" in said.err

    # where the test report goes, checked before the test: a file on the way is named
    code, err = run_cli(["test", *base[1:], "--model.report_dir", str(texts / "sub")], capsys)
    assert code == 2 and f"the test report's folder {texts / 'sub'}: {texts} is a file, not a folder" in err, err


def test_export_of_a_corrupt_checkpoint_leaves_no_bundle(tmp_path, capsys):
    ckpt = tmp_path / "cut.ckpt"
    ckpt.write_bytes(b"PK\x03\x04 truncated zip archive")
    code, err = run_cli(["export", "--ckpt", str(ckpt), "--out", str(tmp_path / "bundle")], capsys)
    assert_clean_failure(code, err, tmp_path / "none", "cut.ckpt", "cannot read checkpoint")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.ckpt"]


def test_a_checkpoint_with_other_data_settings_says_where_the_vocabularies_part(tiny_csv, tmp_path, monkeypatch,
                                                                                  capsys):
    monkeypatch.chdir(tmp_path)
    assert main(fit(tiny_csv, "--trainer.max_epochs", "1", "--test_after_fit", "false")) == 0
    ckpt = str(next((tmp_path / "runs").rglob("last.ckpt")))
    capsys.readouterr()
    code, err = run_cli(["test", "--config", DEBUG, "--data.train_path", str(tiny_csv), "--ckpt_path", ckpt,
                         "--data.max_vocab_size", "10"], capsys)
    assert code == 2 and "different vocab than the data gives now" in err, err
    assert "entries then" in err or "first at id" in err
    assert "split_seed" in err and "config.yaml" in err


def test_export_names_what_is_wrong_with_its_inputs(tiny_csv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, err = run_cli(["export", "--ckpt", str(tmp_path), "--out", str(tmp_path / "b")], capsys)
    assert code == 2 and "is a folder; give a .ckpt file in it" in err, err
    assert main(fit(tiny_csv, "--trainer.max_epochs", "1", "--test_after_fit", "false")) == 0
    ckpt = str(next((tmp_path / "runs").rglob("last.ckpt")))
    bad = tmp_path / "m.json"
    bad.write_text("{bad", encoding="utf-8")
    capsys.readouterr()
    code, err = run_cli(["export", "--ckpt", ckpt, "--out", str(tmp_path / "b"), "--metrics", str(bad)], capsys)
    assert code == 2 and "m.json: not a JSON file of metrics" in err and not (tmp_path / "b").exists(), err


def test_a_full_disk_while_saving_a_checkpoint_is_one_line_and_leaves_no_part(tiny_csv, tmp_path, monkeypatch, capsys):
    # torch's writer turns the failed write into "RuntimeError: ... unexpected pos N vs M", the
    # OSError only in its chain: the one line names the file and the disk
    import errno
    import io

    from textcnn import checkpoint_io

    class Full(io.RawIOBase):
        written = 0

        def writable(self):
            return True

        def write(self, b):
            self.written += len(b)
            if self.written > 4096:
                raise OSError(errno.ENOSPC, "No space left on device")
            return len(b)

    real = checkpoint_io.atomic_write

    def full_disk(path, data, fsync=False):
        def write(f):
            data(Full())  # torch.save fails as on a full disk; nothing reaches f
        real(path, write, fsync)
    monkeypatch.setattr(checkpoint_io, "atomic_write", full_disk)
    monkeypatch.chdir(tmp_path)
    code, err = run_cli(fit(tiny_csv, "--trainer.max_epochs", "1"), capsys)
    assert_clean_failure(code, err, tmp_path, "checkpoints/best-epoch01-acc",
                         ".ckpt: cannot write the checkpoint: No space left on device")
    assert not [p for p in tmp_path.rglob(".*") if p.is_file()], "a temporary was left"


def test_a_write_that_fails_without_a_file_name_names_the_file_meant(tmp_path):
    # a full disk shows when the temporary is closed, as an OSError naming no file (or the hidden
    # temporary): the error names the file the caller asked for, and no temporary is left
    import errno

    from textcnn.fileio import atomic_write

    def full(f):
        raise OSError(errno.ENOSPC, "No space left on device")

    target = tmp_path / "report.json"
    with pytest.raises(OSError) as e:
        atomic_write(target, full)
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(target)
    assert not list(tmp_path.iterdir())


def test_a_failed_merge_of_the_ddp_predictions_leaves_no_share_and_every_process_knows(tmp_path, monkeypatch):
    # The collective calls of the merge (barrier, broadcast) are those of a two-process run seen
    # from each process in turn; the merge itself fails as on a full disk.
    import errno
    from types import SimpleNamespace

    from textcnn import cli

    def trainer(rank, outcome=None):
        strategy = SimpleNamespace(barrier=lambda name=None: None,
                                   broadcast=lambda obj, src=0: obj if outcome is None else outcome)
        return SimpleNamespace(world_size=2, global_rank=rank, is_global_zero=rank == 0, strategy=strategy)

    def full(parts, path):
        raise OSError(errno.ENOSPC, "No space left on device", path)
    monkeypatch.setattr(cli, "_merge_prediction_parts", full)
    shares = [tmp_path / f".out.csv.123.rank{r}-of-2.part" for r in (0, 1)]
    for share in shares:
        share.write_text("line,text,label\n", encoding="utf-8")
    first, second = cli.PredictionWriter(str(tmp_path / "out.csv")), cli.PredictionWriter(str(tmp_path / "out.csv"))
    first._part, second._part = shares
    with pytest.raises(OSError, match="No space left on device"):
        first._gather(trainer(0), str(tmp_path / "out.csv"), shares[0], sys.stdout)
    second._gather(trainer(1, outcome="failed"), str(tmp_path / "out.csv"), shares[1], sys.stdout)  # no error of its own
    assert not list(tmp_path.iterdir()) and first._part is None and second._part is None
    # interrupted before the merge: the first process removes every share (a killed one cannot)
    for share in shares:
        share.write_text("line,text,label\n", encoding="utf-8")
    first._part = shares[0]
    first.on_exception(trainer(0), None, KeyboardInterrupt())
    assert not list(tmp_path.iterdir())


def test_lightning_predictions_under_a_file_say_it_is_a_file_not_a_folder(tmp_path):
    # mkdir said "train.csv: File exists"
    from types import SimpleNamespace

    (tmp_path / "train.csv").write_text("text,label\n", encoding="utf-8")
    out = tmp_path / "train.csv" / "p.csv"
    trainer = SimpleNamespace(default_root_dir=str(tmp_path), datamodule=None, world_size=1)
    module = SimpleNamespace(data_meta={"labels": ["neg", "pos"]})
    with pytest.raises(ValueError) as e:
        PredictionWriter(str(out)).on_predict_start(trainer, module)
    assert str(e.value) == (f"{out}: {tmp_path / 'train.csv'} is a file, not a folder; give "
                            "--prediction_writer.output_path another file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.csv"]
