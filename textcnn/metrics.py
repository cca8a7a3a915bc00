"""Evaluation metrics through scikit-learn: a report dict, a printable table, JSON and a
confusion-matrix plot."""
from __future__ import annotations

import json
import os
from typing import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from .fileio import atomic_write

__all__ = ["classification_report", "format_report", "save_report", "plot_confusion_matrix"]


def classification_report(y_true: Sequence[int], y_pred: Sequence[int], label_names: Sequence[str]) -> dict:
    """Accuracy, macro-F1, per-class precision / recall / F1 / support and the confusion matrix.

    ``y_true`` and ``y_pred`` are class indices into ``label_names``.
    """
    labels = list(range(len(label_names)))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {
        "num_examples": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "per_class": {
            name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, name in enumerate(label_names)
        },
        "labels": list(label_names),
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def format_report(report: dict) -> str:
    """A plain-text table of a ``classification_report``."""
    names = report["labels"]
    width = max(12, *(len(n) for n in names))
    lines = [
        f"{'label':<{width}} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>9}",
        "-" * (width + 40),
    ]
    for name in names:
        c = report["per_class"][name]
        lines.append(
            f"{name:<{width}} {c['precision']:>9.4f} {c['recall']:>9.4f} {c['f1']:>9.4f} {c['support']:>9d}"
        )
    lines.append("-" * (width + 40))
    lines.append(f"{'accuracy':<{width}} {report['accuracy']:>9.4f}   ({report['num_examples']} examples)")
    lines.append(f"{'macro-F1':<{width}} {report['macro_f1']:>9.4f}")
    cm = report["confusion_matrix"]
    cell = max(5, *(len(str(v)) for row in cm for v in row), *(len(n) for n in names))
    lines.append("")
    lines.append("confusion matrix (rows: true, columns: predicted)")
    lines.append(" " * width + " " + " ".join(f"{n[:cell]:>{cell}}" for n in names))
    for name, row in zip(names, cm):
        lines.append(f"{name:<{width}} " + " ".join(f"{v:>{cell}d}" for v in row))
    return "\n".join(lines)


def save_report(report: dict, path: str | os.PathLike) -> None:
    """Write the report as indented JSON (atomically)."""
    atomic_write(path, (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def plot_confusion_matrix(report: dict, path: str | os.PathLike, title: str = "Confusion matrix") -> None:
    """Save the confusion matrix of a report as a PNG (counts, rows normalised for colour)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(report["confusion_matrix"])
    names = report["labels"]
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    size = max(4.0, 0.6 * len(names) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title} (accuracy {report['accuracy']:.4f})")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", color="white" if norm[i, j] > 0.5 else "black")
    fig.tight_layout()
    try:
        atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100))
    finally:
        plt.close(fig)
