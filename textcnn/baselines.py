"""The two linear baselines of ``textcnn bench``, from scikit-learn: TF-IDF 1-2-grams + logistic
regression, and NBSVM (Wang & Manning 2012: NB-weighted binary 1-2-grams + logistic regression),
each with C chosen on the dev split."""
from __future__ import annotations

import time
from typing import Callable

import numpy as np

from .metrics import macro_f1

__all__ = ["BASELINES", "C_GRID", "baseline_scores"]

BASELINES = ("tfidf-lr", "nb-lr")
C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)


def _nb_ratio(x, positive: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Wang & Manning's log-count ratio r = log((p / |p|_1) / (q / |q|_1)) of binary features."""
    p = alpha + np.asarray(x[positive].sum(axis=0)).ravel()
    q = alpha + np.asarray(x[~positive].sum(axis=0)).ravel()
    return np.log((p / p.sum()) / (q / q.sum()))


class _NBLogistic:
    """NBSVM with a logistic loss: per class (one-vs-rest; one model when binary), binary
    features scaled by that class's NB ratio, then logistic regression."""

    def __init__(self, C: float):
        self.C = C

    def fit(self, x, y: np.ndarray) -> "_NBLogistic":
        from sklearn.linear_model import LogisticRegression

        self.classes = np.unique(y)
        targets = self.classes[1:] if len(self.classes) == 2 else self.classes
        self.models = []
        for c in targets:
            r = _nb_ratio(x, y == c)
            clf = LogisticRegression(C=self.C, max_iter=1000, solver="liblinear").fit(x.multiply(r).tocsr(), y == c)
            self.models.append((r, clf))
        return self

    def predict(self, x) -> np.ndarray:
        scores = np.column_stack([clf.decision_function(x.multiply(r).tocsr()) for r, clf in self.models])
        if len(self.classes) == 2:
            return self.classes[(scores[:, 0] > 0).astype(int)]
        return self.classes[scores.argmax(axis=1)]


def baseline_scores(name: str, tokenizer: Callable[[str], list[str]], train: tuple, val: tuple,
                    test: tuple, select: str = "acc") -> dict:
    """Fit baseline ``name`` (one of ``BASELINES``) on ``train`` (texts, labels) for each C in
    ``C_GRID``, keep the C with the best ``val`` accuracy (``select="macro_f1"``: macro-F1; of
    equal ones the smallest C, the most regularised), report its ``test`` accuracy and macro-F1.

    Features are 1-2-grams of ``tokenizer``'s tokens (words, or characters for Chinese),
    fitted on the training texts only.
    """
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)}")
    common = dict(tokenizer=tokenizer, lowercase=False, token_pattern=None, ngram_range=(1, 2))
    if name == "tfidf-lr":
        vectorizer = TfidfVectorizer(sublinear_tf=True, **common)

        def model(c):
            return LogisticRegression(C=c, max_iter=2000)
    else:
        vectorizer = CountVectorizer(binary=True, **common)
        model = _NBLogistic
    start = time.perf_counter()
    x_train = vectorizer.fit_transform(train[0])
    x_val, x_test = vectorizer.transform(val[0]), vectorizer.transform(test[0])
    y_train, y_val, y_test = (np.asarray(s[1]) for s in (train, val, test))
    if select not in ("acc", "macro_f1"):
        raise ValueError(f"select must be 'acc' or 'macro_f1', got {select!r}")
    best = None
    for c in C_GRID:
        clf = model(c).fit(x_train, y_train)
        guess = clf.predict(x_val)
        dev = {"val_acc": float((guess == y_val).mean())}
        if select == "macro_f1":
            dev["val_macro_f1"] = macro_f1(y_val, guess)
        if best is None or dev[f"val_{select}"] > best[0][f"val_{select}"]:
            best = (dev, c, clf)
    dev, c, clf = best
    predicted = clf.predict(x_test)
    return {
        "test_acc": float((predicted == y_test).mean()),
        "test_macro_f1": macro_f1(y_test, predicted),
        **dev,
        "C": c,
        "num_features": int(x_train.shape[1]),
        "fit_seconds": round(time.perf_counter() - start, 2),
    }
