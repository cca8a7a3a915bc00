"""Property-based tests: any Unicode string, however odd, tokenizes into clean tokens and gets a
valid probability distribution over the labels from ``TextClassifier.predict``."""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from test_export import tiny_bundle
from textcnn import TextClassifier
from textcnn.text import CharTokenizer, WordTokenizer

ODD_TEXTS = [
    "",
    "   \t\n ",
    "😀🎬👍🏽 great film 👩‍👩‍👧",                              # emoji, skin tone, ZWJ sequence
    "שלום עולם, סרט טוב",                                     # right-to-left (Hebrew)
    "فيلم رائع جدا",                                          # right-to-left (Arabic)
    "\u202egood\u202c \u200f\u200e\u200b film",                # bidi overrides, zero-width marks
    "\x00\x01\x07\x1b[31mbad\x1b[0m\x7f\r\x0c",                # control characters, ANSI escapes
    "\ud800 lone surrogate",                                  # not encodable as UTF-8
    "e\u0301\u0301\u0301 I\u0307 ǅ ß ﬁ",                      # combining marks, case oddities
    "很好看的电影",                                            # CJK
    ("good film, bad plot! " * 5000)[:100_000],               # 100,000 characters
    "x" * 100_000,                                            # one 100,000-character word
]

TOKENIZERS = [WordTokenizer(), WordTokenizer(lowercase=False), CharTokenizer(), CharTokenizer(lowercase=False),
              CharTokenizer(keep_runs=False)]
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _with_examples(test):
    for text in ODD_TEXTS:
        test = example(text)(test)
    return test


@pytest.mark.parametrize("tokenizer", TOKENIZERS, ids=repr)
@FUZZ
@_with_examples
@given(text=st.text())
def test_tokens_are_non_empty_and_free_of_whitespace(tokenizer, text):
    tokens = tokenizer(text)
    assert isinstance(tokens, list)
    for token in tokens:
        assert isinstance(token, str) and token and not any(c.isspace() for c in token)
    assert tokenizer(text) == tokens  # deterministic


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    path, _ = tiny_bundle(tmp_path_factory.mktemp("fuzz") / "bundle")
    return TextClassifier.load(path, device="cpu")


def _assert_distribution(pred, labels):
    assert list(pred.probabilities) == labels and pred.label in labels
    values = list(pred.probabilities.values())
    assert all(math.isfinite(p) and 0.0 <= p <= 1.0 for p in values)
    assert abs(sum(values) - 1.0) < 1e-5
    assert pred.probabilities[pred.label] == max(values)


@FUZZ
@_with_examples
@given(text=st.text())
def test_predict_gives_a_distribution_for_any_text(classifier, text):
    (pred,) = classifier.predict([text])
    _assert_distribution(pred, classifier.labels)


@settings(max_examples=40, deadline=None)
@given(texts=st.lists(st.text(max_size=300), max_size=20))
def test_predict_many_texts_keeps_order_and_count(classifier, texts):
    preds = classifier.predict(texts)
    assert len(preds) == len(texts)
    for pred in preds:
        _assert_distribution(pred, classifier.labels)
    probs = classifier.predict_proba(texts)
    assert probs.shape == (len(texts), len(classifier.labels)) and np.isfinite(probs).all()
    for text, row in zip(texts, probs):  # a text's probabilities do not depend on its batch
        np.testing.assert_allclose(classifier.predict_proba([text])[0], row, atol=1e-6)
