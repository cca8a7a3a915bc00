"""ONNX export: dynamic batch and length, parity with PyTorch, and a predictor without torch."""
import json
import random
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime", reason="ONNX tests need the export extra: pip install -e '.[export]'")

from textcnn import TextClassifier
from textcnn.cli import main
from textcnn.export import export_onnx
from textcnn.onnx_predict import OnnxClassifier

from conftest import FILLER, NEGATIVE, POSITIVE


def _with_onnx(bundle, tmp_path_factory):
    """A copy of ``bundle`` with ``model.onnx`` exported into it."""
    path = tmp_path_factory.mktemp("onnx") / bundle.name
    shutil.copytree(bundle, path)
    export_onnx(path)
    return path


@pytest.fixture(scope="module")
def onnx_bundle(tiny_bundle_dir, tmp_path_factory):
    return _with_onnx(tiny_bundle_dir, tmp_path_factory)


@pytest.fixture(scope="module")
def onnx_wide_bundle(wide_bundle_dir, tmp_path_factory):
    return _with_onnx(wide_bundle_dir, tmp_path_factory)


@pytest.fixture(scope="module")
def onnx_highway_bundle(highway_bundle_dir, tmp_path_factory):
    return _with_onnx(highway_bundle_dir, tmp_path_factory)


@pytest.fixture(scope="module")
def onnx_kmax_bundle(tmp_path_factory):
    """k-max pooling (k = 4, more than a 1-word text's windows) after batch norm with trained
    statistics: the graph must work at every length, not only at the traced one."""
    from conftest import make_tiny_bundle

    path = make_tiny_bundle(tmp_path_factory.mktemp("bundles") / "tiny-kmax", pooling="kmax", pool_k=4,
                            norm_layer="batchnorm")
    from safetensors.torch import load_file, save_file

    weights = load_file(path / "model.safetensors")
    for name in weights:  # statistics as training would leave them, not the initial 0 and 1
        if name.endswith(("running_mean", "running_var")):
            weights[name] = torch.rand_like(weights[name]) + 0.5
    save_file(weights, path / "model.safetensors")
    config = json.loads((path / "textcnn.json").read_text())
    config.pop("weights_sha256", None)  # recomputed at load for a bundle without one
    (path / "textcnn.json").write_text(json.dumps(config))
    return _with_onnx(path, tmp_path_factory)


@pytest.mark.parametrize("bundle", ["onnx_bundle", "onnx_wide_bundle", "onnx_highway_bundle", "onnx_kmax_bundle"])
def test_onnxruntime_matches_pytorch_on_batches_of_several_lengths(bundle, request):
    onnx_bundle = request.getfixturevalue(bundle)
    torch_clf = TextClassifier.load(onnx_bundle, device="cpu")
    onnx_clf = OnnxClassifier.load(onnx_bundle)
    # padded to what the model needs: 5 words (the largest window), or 1 with wide padding
    assert onnx_clf.min_len == torch_clf.min_len == torch_clf.model.min_len
    rng = random.Random(0)
    words = POSITIVE + NEGATIVE + FILLER + ["unseen", "."]
    for batch_size, max_words in [(1, 1), (3, 4), (17, 12), (64, 60)]:  # 1-4 words: shorter than the window 5
        texts = [" ".join(rng.choices(words, k=rng.randint(1, max_words))) for _ in range(batch_size)]
        expected = torch_clf.predict_proba(texts)
        got = onnx_clf.predict_proba(texts, batch_size=batch_size)
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
        # the logits too, whose softmax the probabilities are
        logits = torch_clf.predict_logits(texts)
        np.testing.assert_allclose(onnx_clf.predict_logits(texts, batch_size=batch_size), logits, atol=1e-4, rtol=1e-5)
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        np.testing.assert_allclose(shifted / shifted.sum(axis=1, keepdims=True), expected, atol=1e-6, rtol=0)
    assert onnx_clf.predict_proba([""]).shape == (1, 2) and torch_clf.predict_logits("a film").shape == (1, 2)


def test_cli_writes_onnx_into_a_bundle_and_predictor_needs_no_torch(onnx_bundle, tmp_path, capsys):
    bundle = tmp_path / "b"
    shutil.copytree(onnx_bundle, bundle)
    (bundle / "model.onnx").unlink()
    assert main(["export", "--bundle", str(bundle), "--format", "onnx"]) == 0
    assert sorted(p.name for p in bundle.iterdir()) == ["model.onnx", "model.safetensors", "textcnn.json"]
    script = (
        "import json, sys\n"
        "from textcnn import Prediction\n"
        "from textcnn.onnx_predict import onnx_predict\n"
        "out = onnx_predict(sys.argv[1], ['a superb film', 'dull'])\n"
        "assert all(isinstance(p, Prediction) for p in out)\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'out': [p.to_dict() for p in out]}))\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(bundle)], capture_output=True, text=True,
                            cwd=tmp_path, check=True)
    out = json.loads(result.stdout)
    assert out["torch"] is False
    expected = TextClassifier.load(bundle, device="cpu").predict(["a superb film", "dull"])
    assert [p["label"] for p in out["out"]] == [p.label for p in expected]
    for got, want in zip(out["out"], expected):  # the same Prediction as TextClassifier's
        assert got["probabilities"] == pytest.approx(want.probabilities, abs=1e-5)
        assert got["score"] == pytest.approx(want.score, abs=1e-5)


def test_cli_writes_onnx_into_a_copy_at_out_and_leaves_the_bundle_as_it_was(tiny_bundle_dir, tmp_path):
    before = sorted(p.name for p in tiny_bundle_dir.iterdir())
    out = tmp_path / "with-onnx"
    assert main(["export", "--bundle", str(tiny_bundle_dir), "--out", str(out), "--format", "onnx"]) == 0
    assert sorted(p.name for p in tiny_bundle_dir.iterdir()) == before == ["model.safetensors", "textcnn.json"]
    assert sorted(p.name for p in out.iterdir()) == ["model.onnx", "model.safetensors", "textcnn.json"]
    texts = ["a superb film", "dull"]
    np.testing.assert_allclose(OnnxClassifier.load(out).predict_proba(texts),
                               TextClassifier.load(tiny_bundle_dir, device="cpu").predict_proba(texts), atol=1e-5)
    # metrics are recorded from a checkpoint's run: given with --bundle they would be ignored
    (tmp_path / "m.json").write_text('{"accuracy": 0.123}')
    with pytest.raises(SystemExit) as stop:
        main(["export", "--bundle", str(tiny_bundle_dir), "--out", str(tmp_path / "again"), "--format", "onnx",
              "--metrics", str(tmp_path / "m.json")])
    assert stop.value.code == 2 and not (tmp_path / "again").exists()


def test_missing_onnx_file_says_how_to_make_it(tiny_bundle_dir):
    with pytest.raises(ValueError, match="textcnn export --bundle .* --format onnx"):
        OnnxClassifier.load(tiny_bundle_dir)


def test_the_onnx_classifier_without_onnxruntime_says_what_to_install(tiny_bundle_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as where it is not installed
    with pytest.raises(ModuleNotFoundError, match=r"OnnxClassifier needs onnxruntime: pip install onnxruntime"):
        OnnxClassifier.load(tiny_bundle_dir)


def test_a_model_onnx_from_other_weights_or_classes_is_refused(onnx_bundle, tmp_path):
    import torch

    from textcnn.bundle import BundleError
    from textcnn.export import load_bundle, save_bundle

    clf = OnnxClassifier.load(onnx_bundle, providers="CPUExecutionProvider")  # one name, not a list
    assert clf.session.get_providers() == ["CPUExecutionProvider"]
    assert repr(clf).startswith(f"OnnxClassifier(path={str(onnx_bundle)!r}, labels=")
    # the same shapes, other weights: a stale model.onnx beside a re-exported bundle
    model, config = load_bundle(onnx_bundle)
    with torch.no_grad():
        model.head.bias += 1.0
    other = save_bundle(tmp_path / "other", model, config)
    shutil.copy(onnx_bundle / "model.onnx", other / "model.onnx")
    with pytest.raises(BundleError, match="made from other weights than this bundle's model.safetensors; re-create"):
        OnnxClassifier.load(other)
    # a graph of 2 classes in a bundle of 3 labels
    cfg = json.loads((other / "textcnn.json").read_text())
    del cfg["weights_sha256"]  # as in a bundle from before the checksum
    cfg["labels"].append("neutral")
    (other / "textcnn.json").write_text(json.dumps(cfg))
    with pytest.raises(BundleError, match="gives 2 classes, but textcnn.json has 3 labels"):
        OnnxClassifier.load(other)


def test_an_edited_vocabulary_is_refused_by_the_onnx_classifier_too(onnx_bundle, tmp_path):
    import json

    from textcnn.bundle import BundleError

    bundle = tmp_path / "b"
    shutil.copytree(onnx_bundle, bundle)
    config = json.loads((bundle / "textcnn.json").read_text(encoding="utf-8"))
    config["vocab"] += ["zzz", "yyy"]  # ids past the graph's table: an onnxruntime error at request time
    (bundle / "textcnn.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(BundleError, match="the vocabulary has .* entries, but the model was made for"):
        OnnxClassifier.load(bundle)


def test_a_damaged_model_onnx_or_a_vocabulary_past_its_table_is_refused_at_load(onnx_bundle, tmp_path):
    from textcnn.bundle import BundleError

    bundle = tmp_path / "b"
    shutil.copytree(onnx_bundle, bundle)
    graph = (bundle / "model.onnx").read_bytes()
    for damaged in (graph[: len(graph) // 2], b"", b"not an onnx graph"):
        (bundle / "model.onnx").write_bytes(damaged)
        with pytest.raises(BundleError, match=r"model.onnx: onnxruntime cannot load it \(\w+: .*\); re-create it with "
                                              r"`textcnn export --bundle"):
            OnnxClassifier.load(bundle)
    (bundle / "model.onnx").write_bytes(graph)
    config = json.loads((bundle / "textcnn.json").read_text(encoding="utf-8"))
    config["vocab"] += ["zzz", "yyy"]  # and the model's vocab_size with it: only the graph's table tells
    config["model"]["vocab_size"] += 2
    (bundle / "textcnn.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(BundleError, match=rf"model.onnx: fails on the last id of the vocabulary of textcnn.json "
                                          rf"\({len(config['vocab'])} entries; .*\); re-create it"):
        OnnxClassifier.load(bundle)


def test_onnx_export_without_the_onnx_package_says_what_to_install_and_writes_nothing(tiny_bundle_dir, tmp_path,
                                                                                      monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: None if name == "onnx" else real(name, *a, **k))
    out = tmp_path / "with-onnx"
    assert main(["export", "--bundle", str(tiny_bundle_dir), "--out", str(out), "--format", "onnx"]) == 2
    assert "ONNX export needs the onnx package: pip install onnx onnxruntime" in capsys.readouterr().err
    assert not out.exists()
