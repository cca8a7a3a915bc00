"""The bundles shipped in checkpoints/ load and behave (no training data needed)."""
from pathlib import Path

import pytest

from textcnn import TextClassifier
from textcnn.cli import main

MR = Path(__file__).resolve().parents[1] / "checkpoints" / "mr-multichannel-glove50"


@pytest.fixture(scope="module")
def mr():
    return TextClassifier.load(MR, device="cpu")


def test_mr_bundle_classifies_clear_sentences(mr):
    assert mr.labels == ["negative", "positive"]
    texts = ["a gorgeous , witty , seductive movie .", "an overlong , self-indulgent mess ."]
    assert [p.label for p in mr.predict(texts)] == ["positive", "negative"]
    assert mr.config["metrics"]["accuracy"] > 0.74


def test_classify_command_prints_labels_with_probabilities(capsys):
    assert main(["classify", "--bundle", str(MR), "a gorgeous, witty, seductive movie."]) == 0
    out = capsys.readouterr().out
    assert "positive" in out and "negative 0." in out


THUCNEWS = MR.parent / "thucnews-nonstatic-char200"


def test_thucnews_bundle_classifies_clear_titles_and_explains_by_character():
    clf = TextClassifier.load(THUCNEWS, device="cpu")
    assert len(clf.labels) == 10 and clf.config["metrics"]["accuracy"] > 0.78
    titles = ["国足主帅公布世界杯预选赛大名单", "教育部：今年高考报名人数再创新高"]
    assert [p.label for p in clf.predict(titles)] == ["sports", "education"]
    exp = clf.explain(titles[0])
    assert "".join(t for t, _ in exp.spans()) == titles[0] and exp.label == "sports"
