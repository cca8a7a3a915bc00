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
