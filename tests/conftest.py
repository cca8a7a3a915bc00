"""Tiny generated data sets and vector files; no test needs ../shared or the network."""
import csv
import random
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]

POSITIVE = ["good", "great", "superb", "lovely", "wonderful", "brilliant", "moving", "funny"]
NEGATIVE = ["bad", "awful", "dull", "boring", "tedious", "weak", "clumsy", "silly"]
FILLER = ["the", "film", "movie", "story", "is", "was", "a", "and", "plot", "cast", "quite", "really"]


def make_sentences(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` short sentences whose label follows from the sentiment words they contain."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = "positive" if i % 2 == 0 else "negative"
        cue = POSITIVE if label == "positive" else NEGATIVE
        words = rng.choices(FILLER, k=rng.randint(2, 8)) + rng.choices(cue, k=rng.randint(1, 2))
        rng.shuffle(words)
        rows.append((" ".join(words) + " .", label))
    return rows


def write_csv(path: Path, rows) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(rows)
    return path


@pytest.fixture
def tiny_csv(tmp_path) -> Path:
    """200 generated sentiment sentences as ``text,label`` CSV."""
    return write_csv(tmp_path / "tiny.csv", make_sentences(200))


@pytest.fixture
def tiny_glove(tmp_path) -> Path:
    """GloVe-format text vectors (dim 16) for the generated vocabulary, sentiment in one axis."""
    rng = np.random.default_rng(0)
    path = tmp_path / "tiny_glove.txt"
    with open(path, "w", encoding="utf-8") as f:
        for word in POSITIVE + NEGATIVE + FILLER + ["."]:
            v = rng.normal(0, 0.3, 16)
            v[0] = 1.0 if word in POSITIVE else -1.0 if word in NEGATIVE else 0.0
            f.write(word + " " + " ".join(f"{x:.5f}" for x in v) + "\n")
    return path


def make_tiny_bundle(path: Path, **model_options) -> Path:
    """An untrained word-level bundle over the generated vocabulary: windows 2, 3, 5, labels
    positive / negative, max pooling; ``model_options`` go to ``TextCNN``."""
    import torch

    from textcnn.export import save_bundle
    from textcnn.model import TextCNN
    from textcnn.text import PAD, UNK, WordTokenizer

    torch.manual_seed(0)
    vocab = [PAD, UNK, *POSITIVE, *NEGATIVE, *FILLER, "."]
    cfg = {"vocab_size": len(vocab), "num_classes": 2, "embed_dim": 16, "variant": "non-static",
           "kernel_sizes": [2, 3, 5], "num_filters": 6, **model_options}
    model = TextCNN(**cfg)
    config = {"model": cfg, "vocab": vocab, "labels": ["positive", "negative"],
              "tokenizer": WordTokenizer().to_config(), "min_len": model.min_len}
    return save_bundle(path, model, config)


@pytest.fixture(scope="session")
def tiny_bundle_dir(tmp_path_factory) -> Path:
    """``make_tiny_bundle`` with valid convolutions. Built once per session; treat it as read-only."""
    return make_tiny_bundle(tmp_path_factory.mktemp("bundles") / "tiny-sentiment")


@pytest.fixture(scope="session")
def wide_bundle_dir(tmp_path_factory) -> Path:
    """``make_tiny_bundle`` with Kim's wide padding (windows overhang the text's ends)."""
    return make_tiny_bundle(tmp_path_factory.mktemp("bundles") / "tiny-wide", conv_padding="wide")


@pytest.fixture(scope="session")
def highway_bundle_dir(tmp_path_factory) -> Path:
    """``make_tiny_bundle`` with one highway layer after pooling, and wide padding."""
    return make_tiny_bundle(tmp_path_factory.mktemp("bundles") / "tiny-highway", conv_padding="wide", highway=1)


from lightning.pytorch.callbacks import Callback  # noqa: E402  (only this helper needs it)


class StopInTest(Callback):
    """A Ctrl-C in the test that follows a fit (``--trainer.callbacks+=conftest.StopInTest``)."""

    def on_test_batch_start(self, *args, **kwargs):
        raise KeyboardInterrupt


def _new_files() -> set[str]:
    """Files in the checkout that git neither tracks nor ignores (empty outside a git checkout)."""
    import subprocess

    try:
        out = subprocess.run(["git", "ls-files", "--others", "--exclude-standard"], cwd=REPO, capture_output=True,
                             text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return set()
    return set(out.stdout.splitlines()) if out.returncode == 0 else set()


def pytest_sessionstart(session):
    session.config._files_before = _new_files()


def pytest_sessionfinish(session, exitstatus):
    # A test writes into tmp_path, never into the checkout (a report left in the repository's
    # root by a Trainer without a folder of its own, say): the run fails and names the files.
    left = sorted(_new_files() - getattr(session.config, "_files_before", set()))
    if left:
        print(f"\ntests left files in the checkout: {left[:10]}", flush=True)
        session.exitstatus = 1
