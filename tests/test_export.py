import json

import numpy as np
import pytest
import torch

from textcnn import TextClassifier
from textcnn.export import BundleError, load_bundle, save_bundle
from textcnn.model import TextCNN
from textcnn.text import PAD, UNK, WordTokenizer


def tiny_bundle(path, variant="multichannel"):
    torch.manual_seed(0)
    vocab = [PAD, UNK, "good", "bad", "film", "."]
    cfg = {"vocab_size": len(vocab), "num_classes": 2, "embed_dim": 8, "variant": variant,
           "kernel_sizes": [2, 3], "num_filters": 4}
    model = TextCNN(**cfg)
    if variant != "rand":
        model.load_pretrained(torch.randn(len(vocab), 8))
    config = {"model": cfg, "vocab": vocab, "labels": ["neg", "pos"], "tokenizer": WordTokenizer().to_config()}
    return save_bundle(path, model, config), model


def test_save_load_gives_identical_probabilities(tmp_path):
    path, model = tiny_bundle(tmp_path / "b")
    clf = TextClassifier.load(path, device="cpu")
    texts = ["good film .", "bad", "", "unknown words only", "good " * 50]
    probs = clf.predict_proba(texts)
    from textcnn.model import pad_batch
    with torch.no_grad():
        model.eval()
        expected = torch.softmax(model(pad_batch(clf.encode(texts), min_len=3)), -1).numpy()
    assert np.array_equal(probs, expected) or np.allclose(probs, expected, atol=1e-7)
    again = TextClassifier.load(path, device="cpu").predict_proba(texts)
    assert np.array_equal(probs, again)
    preds = clf.predict(texts)
    assert [p.label for p in preds] == [clf.labels[i] for i in probs.argmax(1)]
    assert all(abs(sum(p.probabilities.values()) - 1) < 1e-5 for p in preds)
    # a prediction unpacks as (label, probabilities) and turns into plain JSON
    label, probabilities = preds[0]
    assert (label, probabilities) == (preds[0].label, preds[0].probabilities)
    assert json.loads(json.dumps(preds[0].to_dict())) == {
        "label": label, "score": probabilities[label], "probabilities": probabilities}
    # batching changes nothing: one at a time equals all together
    single = np.concatenate([clf.predict_proba([t]) for t in texts])
    assert np.allclose(single, probs, atol=1e-6)


def test_bundle_has_no_pickle_and_rewrites_atomically(tmp_path):
    path, _ = tiny_bundle(tmp_path / "b")
    assert sorted(p.name for p in path.iterdir()) == ["model.safetensors", "textcnn.json"]
    cfg = json.loads((path / "textcnn.json").read_text())
    assert cfg["format"] == "textcnn-bundle" and cfg["labels"] == ["neg", "pos"]
    tiny_bundle(path, variant="rand")  # replacing an existing bundle
    assert json.loads((path / "textcnn.json").read_text())["model"]["variant"] == "rand"
    assert [p.name for p in tmp_path.iterdir()] == ["b"]  # no temporary folders left behind


def test_mismatched_weights_are_reported(tmp_path):
    path, _ = tiny_bundle(tmp_path / "b")
    cfg = json.loads((path / "textcnn.json").read_text())
    cfg["model"]["num_filters"] = 7
    (path / "textcnn.json").write_text(json.dumps(cfg))
    with pytest.raises(BundleError, match="weights do not match textcnn.json"):
        load_bundle(path)


def test_missing_pieces_are_reported(tmp_path):
    with pytest.raises(BundleError, match="not a textcnn bundle"):
        load_bundle(tmp_path)
    path, _ = tiny_bundle(tmp_path / "b")
    (path / "model.safetensors").unlink()
    with pytest.raises(BundleError, match="model.safetensors is missing"):
        load_bundle(path)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    with pytest.raises(BundleError, match="not a textcnn bundle; choose another"):
        tiny_bundle(tmp_path / "other")


@pytest.mark.parametrize("edit, expected", [
    (None, "no such bundle folder"),
    ("[1, 2]", "expected a JSON object, found list"),
    ({"labels": "ab"}, "'labels' is a str"),
    ({"tokenizer": {"type": "bpe"}}, "unknown tokenizer 'bpe'"),
    ({"version": "1"}, r"'version' is '1'; expected an integer >= 0 or null"),
    ({"min_len": "x"}, r"'min_len' is 'x'; expected an integer >= 0 or null"),
    ({"max_len": "10"}, r"'max_len' is '10'; expected an integer >= 1 or null"),
    ({"max_len": -1}, r"'max_len' is -1; expected an integer >= 1 or null"),
    ({"labels": ["neg", "neg"]}, r"'labels' must be distinct strings, one per class; found \['neg', 'neg'\]"),
    ({"labels": [None, None]}, r"'labels' must be distinct strings"),
    ({"vocab": [PAD, UNK, "good", "bad", "film", ".", "x", "y"]},
     "vocabulary has 8 entries and labels 2, but the model config says 6 and 2"),
])
def test_a_broken_bundle_says_what_is_wrong(edit, expected, tmp_path):
    from textcnn import TextClassifier
    from textcnn.bundle import BundleError

    path, _ = tiny_bundle(tmp_path / "b")
    if edit is None:
        path = tmp_path / "nope"
    elif isinstance(edit, str):
        (path / "textcnn.json").write_text(edit)
    else:
        cfg = json.loads((path / "textcnn.json").read_text())
        (path / "textcnn.json").write_text(json.dumps({**cfg, **edit}))
    with pytest.raises(BundleError, match=expected):
        TextClassifier.load(path)


@pytest.mark.parametrize("setting, value, expected", [
    ("num_filters", "100", r"'num_filters' is '100'; expected an integer >= 1, as textcnn writes"),
    ("num_filters", 4.0, r"'num_filters' is 4.0; expected an integer >= 1"),
    ("num_classes", True, r"'num_classes' is True; expected an integer >= 2"),
    ("embed_dim", None, r"'embed_dim' is None; expected an integer >= 1"),
    ("kernel_sizes", "23", r"'kernel_sizes' is '23'; expected a list of window widths \(integers >= 1\)"),
    ("kernel_sizes", [], r"'kernel_sizes' is \[\]; expected a list of window widths"),
    ("drop_rate", "x", r"'drop_rate' is 'x'; expected a number from 0 to below 1"),
    ("act_layer", 3, r"'act_layer' is 3; expected a name \(a string\)"),
    ("padding_idx", 99999, r"'padding_idx' is 99999; expected an id of the vocabulary \(below its 6 entries\)"),
])
def test_a_model_setting_of_the_wrong_type_is_named(setting, value, expected, tmp_path):
    path, _ = tiny_bundle(tmp_path / "b")
    cfg = json.loads((path / "textcnn.json").read_text())
    cfg["model"][setting] = value
    (path / "textcnn.json").write_text(json.dumps(cfg))
    with pytest.raises(BundleError, match=f"textcnn.json: model setting {expected}"):
        TextClassifier.load(path)


def test_weights_of_another_type_or_a_padding_past_the_widest_window_are_refused(tmp_path):
    from safetensors.torch import load_file, save_file

    path, _ = tiny_bundle(tmp_path / "b")
    cfg = json.loads((path / "textcnn.json").read_text())
    (path / "textcnn.json").write_text(json.dumps({**cfg, "min_len": 1_000_000}))
    with pytest.raises(BundleError, match="'min_len' is 1000000, more than the widest window \\(3\\)"):
        TextClassifier.load(path)
    (path / "textcnn.json").write_text(json.dumps({**cfg, "weights_sha256": None}))
    with pytest.raises(BundleError, match="'weights_sha256' is None, not the SHA-256 textcnn writes"):
        TextClassifier.load(path)
    weights = load_file(path / "model.safetensors")
    weights["head.weight"] = weights["head.weight"].to(torch.bfloat16)  # loaded, it failed in the first product
    save_file(weights, path / "model.safetensors")
    del cfg["weights_sha256"]
    (path / "textcnn.json").write_text(json.dumps(cfg))
    with pytest.raises(BundleError, match=r"model.safetensors: head.weight \(torch.bfloat16\) not of the type "
                                          r"textcnn writes \(torch.float32\); the weights are damaged"):
        TextClassifier.load(path)


def test_loading_a_bundle_builds_no_table_it_replaces(tmp_path):
    """Built on the meta device, the model draws no N(0, 1) table: drawn there it imported
    torch._dynamo, a second and 100 MB on a service's first load."""
    import subprocess
    import sys

    path, _ = tiny_bundle(tmp_path / "b")
    code = ("import sys; from textcnn import TextClassifier; TextClassifier.load(sys.argv[1]).predict('good film'); "
            "print('torch._dynamo' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "False", run.stderr


def test_one_exports_config_with_anothers_weights_is_refused(tmp_path):
    # what a load meeting a bundle half-way through being replaced would see
    a, _ = tiny_bundle(tmp_path / "a")
    b, _ = tiny_bundle(tmp_path / "b", variant="static")  # same shapes, other weights
    (a / "model.safetensors").write_bytes((b / "model.safetensors").read_bytes())
    with pytest.raises(BundleError, match="not the weights textcnn.json was written with"):
        load_bundle(a)


def test_damaged_weight_bytes_are_refused(tmp_path):
    path, _ = tiny_bundle(tmp_path / "b")
    data = bytearray((path / "model.safetensors").read_bytes())
    data[-16:] = b"\xff" * 16  # inside the last tensor: still a well-formed file, now with NaN
    (path / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(BundleError, match="SHA-256 differs"):
        load_bundle(path)
    # a bundle from before the checksum: the NaN values themselves are refused
    cfg = json.loads((path / "textcnn.json").read_text())
    del cfg["weights_sha256"]
    (path / "textcnn.json").write_text(json.dumps(cfg))
    with pytest.raises(BundleError, match=r"NaN or infinite values in \S+; the weights are damaged"):
        load_bundle(path)


def test_a_bundle_left_aside_by_an_interrupted_export_is_named(tmp_path):
    path, _ = tiny_bundle(tmp_path / "b")
    path.rename(tmp_path / ".b.old")  # an export stopped between its two renames
    with pytest.raises(BundleError, match=r"no such bundle folder, but \S+\.b\.old holds the bundle"):
        load_bundle(path)


def test_classifier_names_its_bundle_and_device_is_checked(tmp_path):
    path, _ = tiny_bundle(tmp_path / "b")
    assert repr(TextClassifier.load(path, device="cpu")).startswith(f"TextClassifier(path={str(path)!r}, ")
    assert TextClassifier.load(path, device=torch.device("cpu")).device.type == "cpu"
    with pytest.raises(TypeError, match="device must be a str"):
        TextClassifier.load(path, device=0)  # not "auto", which a falsy value used to mean
    for device in ("meta", "mps"):  # meta loaded, then failed at the first prediction
        with pytest.raises(ValueError, match=f"device '{device}': expected 'cpu', 'cuda' or 'cuda:N'"):
            TextClassifier.load(path, device=device)


def test_tokenizing_in_a_threaded_host_leaves_its_garbage_collector_alone(tmp_path):
    import gc
    import threading

    path, _ = tiny_bundle(tmp_path / "b")
    clf = TextClassifier.load(path, device="cpu")
    seen = []
    worker = threading.Thread(target=lambda: [clf.encode(["a gorgeous movie"] * 2000) for _ in range(20)])
    worker.start()
    while worker.is_alive():
        seen.append(gc.isenabled())
    worker.join()
    try:
        assert all(seen) and gc.isenabled()  # never switched off under the host's other thread
    finally:
        gc.enable()


def test_a_process_forked_after_loading_predicts_instead_of_hanging(tmp_path):
    # torch's OpenMP threads do not survive fork (gunicorn --preload, Celery prefork)
    import subprocess
    import sys

    path, _ = tiny_bundle(tmp_path / "b")
    script = f"""
import os, sys, time, torch
from textcnn import TextClassifier
torch.set_num_threads(2)
clf = TextClassifier.load({str(path)!r}, device="cpu")
texts = ["good film . " * 200] * 256
clf.predict_proba(texts)
pid = os.fork()
if pid == 0:
    clf.predict_proba(texts)
    os._exit(0)
for _ in range(300):
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        sys.exit(0 if status == 0 else 3)
    time.sleep(0.1)
os.kill(pid, 9)
sys.exit(4)
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"forked child {'hung' if run.returncode == 4 else 'failed'}: {run.stderr[-2000:]}"


def test_replacing_a_bundle_keeps_other_files_safe_and_not_the_current_folder(tmp_path, monkeypatch):
    path, model = tiny_bundle(tmp_path / "svc")
    (path / "NOTES.md").write_text("ours", encoding="utf-8")
    (path / "assets").mkdir()
    config = {k: v for k, v in json.loads((path / "textcnn.json").read_text()).items()
              if k in ("model", "vocab", "labels", "tokenizer")}
    with pytest.raises(BundleError, match=r"svc: a bundle, but it also holds NOTES.md, assets, which replacing "
                                          r"the bundle would delete"):
        save_bundle(path, model, config)
    assert (path / "NOTES.md").read_text(encoding="utf-8") == "ours"
    (path / "NOTES.md").unlink()
    (path / "assets").rmdir()
    monkeypatch.chdir(path)
    for out in (".", str(path), str(tmp_path)):
        with pytest.raises(BundleError, match="the current folder or one above it"):
            save_bundle(out, model, config)
    assert sorted(p.name for p in path.iterdir()) == ["model.safetensors", "textcnn.json"]


def _checkpoint(path, variant="rand"):
    """A training checkpoint as `textcnn fit` writes it (its textcnn part and the model's weights)."""
    model_path, model = tiny_bundle(path.parent / f"src-{path.stem}", variant)
    config = json.loads((model_path / "textcnn.json").read_text())
    torch.save({"textcnn": {"model": config["model"], "data": {k: config[k] for k in ("vocab", "labels", "tokenizer")}},
                "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()}}, path)
    return path


def _files(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_a_failed_onnx_export_leaves_the_bundle_it_would_replace_whole(tmp_path, monkeypatch, capsys):
    # model.onnx is made in the new bundle's temporary folder, before the swap: an ONNX export that
    # fails (here a full disk) leaves the old bundle, its model.onnx included, as it was
    pytest.importorskip("onnx")
    import errno

    import textcnn.export
    from textcnn.cli import main

    ckpt, out = _checkpoint(tmp_path / "a.ckpt"), tmp_path / "b"
    assert main(["export", "--ckpt", str(ckpt), "--out", str(out), "--format", "onnx"]) == 0
    before = _files(out)
    assert "model.onnx" in before

    def full(bundle, opset=17):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(textcnn.export, "export_onnx", full)
    other = _checkpoint(tmp_path / "c.ckpt", variant="multichannel")
    for args in (["--ckpt", str(other)], ["--bundle", str(tmp_path / "src-c")]):
        capsys.readouterr()
        assert main(["export", *args, "--out", str(out), "--format", "onnx"]) == 2
        assert capsys.readouterr().err.strip() == f"textcnn: error: {out}: No space left on device"
        assert _files(out) == before
        assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_a_bundle_that_cannot_be_written_names_the_folder_given(tmp_path, monkeypatch, capsys):
    # a read-only folder (the temporary beside the bundle is refused), a full disk (a write that
    # names no file), a read-only bundle given model.onnx, a file where a folder should be: one line
    # naming the path given, not a hidden temporary or nothing
    import errno
    import pathlib

    import textcnn.export
    from textcnn.cli import main

    ckpt = _checkpoint(tmp_path / "a.ckpt")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ro").mkdir()

    def read_only(prefix=None, dir=None, **kw):
        raise OSError(errno.EROFS, "Read-only file system", f"{dir}/{prefix}x1y2")
    with monkeypatch.context() as m:
        m.setattr(textcnn.export.tempfile, "mkdtemp", read_only)
        assert main(["export", "--ckpt", str(ckpt), "--out", "ro/b"]) == 2
    assert capsys.readouterr().err.strip() == "textcnn: error: ro/b: Read-only file system"

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")
    with monkeypatch.context() as m:
        m.setattr(pathlib.Path, "write_bytes", full)
        assert main(["export", "--ckpt", str(ckpt), "--out", "b"]) == 2
    assert capsys.readouterr().err.strip() == "textcnn: error: b: No space left on device"

    (tmp_path / "train.csv").write_text("text,label\n")
    assert main(["export", "--ckpt", str(ckpt), "--out", "train.csv/b"]) == 2
    assert capsys.readouterr().err.strip() == (f"textcnn: error: train.csv/b: {tmp_path / 'train.csv'} is a file, "
                                              "not a folder; choose another output path")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.ckpt", "ro", "src-a", "train.csv"]

    pytest.importorskip("onnx")

    def read_only_file(model, args, f, **kw):
        raise OSError(errno.EROFS, "Read-only file system", f)
    monkeypatch.setattr(torch.onnx, "export", read_only_file)
    assert main(["export", "--bundle", "src-a", "--format", "onnx"]) == 2
    assert capsys.readouterr().err.strip() == "textcnn: error: src-a/model.onnx: Read-only file system"
    assert sorted(p.name for p in (tmp_path / "src-a").iterdir()) == ["model.safetensors", "textcnn.json"]


def test_an_export_stopped_by_sigterm_leaves_no_temporary_and_the_old_bundle(tmp_path, monkeypatch, capsys):
    import os
    import signal

    import textcnn.export
    from textcnn.cli import main

    ckpt, out = _checkpoint(tmp_path / "a.ckpt"), tmp_path / "b"
    assert main(["export", "--ckpt", str(ckpt), "--out", str(out)]) == 0
    before = _files(out)
    other = _checkpoint(tmp_path / "c.ckpt", "static")
    real = textcnn.export.save_safetensors

    def terminated(*args, **kwargs):  # SIGTERM while the new bundle is being written
        os.kill(os.getpid(), signal.SIGTERM)
        return real(*args, **kwargs)
    monkeypatch.setattr(textcnn.export, "save_safetensors", terminated)
    assert main(["export", "--ckpt", str(other), "--out", str(out)]) == 143
    assert "export stopped by SIGTERM" in capsys.readouterr().err
    assert _files(out) == before and not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
