"""Evaluation metrics through scikit-learn: a report dict, a printable table, JSON and a
confusion-matrix plot."""
from __future__ import annotations

import functools
import json
import os
import unicodedata
from typing import Iterable, Optional, Sequence, Union

import numpy as np
import torch
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from .fileio import atomic_write

__all__ = ["classification_report", "macro_f1", "accuracy_and_macro_f1", "format_report", "save_report", "plot_confusion_matrix"]


def _not_an_index(ys: Iterable, n: int) -> Optional[tuple]:
    """``(y,)`` for the first ``y`` of ``ys`` that is not a whole number in ``0..n-1``, else None."""
    for y in ys:
        try:
            if int(y) == y and 0 <= int(y) < n:
                continue
        except (TypeError, ValueError):
            pass
        return (y,)
    return None


def _present(y_true, y_pred) -> list:
    """The classes that occur in the truth or the predictions, sorted."""
    return sorted({y.item() if hasattr(y, "item") else y for y in [*y_true, *y_pred]})


def macro_f1(y_true: Union[Sequence, np.ndarray], y_pred: Union[Sequence, np.ndarray]) -> float:
    """The mean F1 of the classes that occur in the truth or the predictions: a class with no test
    example that is never predicted has no F1 (sklearn's own default), not an F1 of 0. The
    labels may be ids or names."""
    present = _present(y_true, y_pred)
    return float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)) if present else 0.0


def classification_report(y_true: Union[Sequence[int], np.ndarray], y_pred: Union[Sequence[int], np.ndarray],
                          label_names: Sequence[str]) -> dict:
    """Accuracy, macro-F1, per-class precision / recall / F1 / support and the confusion matrix.

    ``y_true`` and ``y_pred`` are class indices into ``label_names`` (a ValueError otherwise:
    an index out of range would be left out of the matrix and counted as a class of its own).
    """
    labels = list(range(len(label_names)))
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} entries, y_pred {len(y_pred)}")
    for name, ys in (("y_true", y_true), ("y_pred", y_pred)):
        bad = _not_an_index(ys, len(label_names))
        if bad is not None:
            raise ValueError(f"{name} holds {bad[0]!r}, not a class index in 0..{len(label_names) - 1} "
                             f"(label_names has {len(label_names)}): pass the ids of the labels, not the labels")
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    present = set(_present(y_true, y_pred))
    return {
        "num_examples": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": macro_f1(y_true, y_pred),
        "macro_f1_classes": len(present),
        # a class with no example here that is never predicted has no precision, recall or F1:
        # null, not the 0.0 sklearn fills in (which read as a class the model gets wrong)
        "per_class": {
            name: {**({"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i])} if i in present else
                      dict.fromkeys(("precision", "recall", "f1"))), "support": int(s[i])}
            for i, name in enumerate(label_names)
        },
        "labels": list(label_names),
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def accuracy_and_macro_f1(y_true: torch.Tensor, y_pred: torch.Tensor, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Accuracy and macro-F1 of class-index tensors, on their device (the dev figures of every
    epoch, without a trip to the host): the same values as ``classification_report``'s, whose
    macro-F1 averages the classes present in the truth or the predictions."""
    counts = torch.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    matrix = counts.reshape(num_classes, num_classes)
    tp = matrix.diagonal().float()  # not double: MPS has none
    denominator = matrix.sum(dim=0) + matrix.sum(dim=1)  # 2 tp + fp + fn
    present = denominator > 0
    acc = tp.sum() / max(y_true.numel(), 1)
    f1 = torch.where(present, 2 * tp / denominator.clamp(min=1), 0.0)  # no boolean indexing: no host sync
    return acc, f1.sum() / present.sum().clamp(min=1)


def _columns(text: str) -> int:
    """Terminal columns ``text`` takes: wide (CJK) and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _left(text: str, width: int) -> str:
    return text + " " * (width - _columns(text))


def _right(text: str, width: int) -> str:
    return " " * (width - _columns(text)) + text


def format_report(report: dict) -> str:
    """A plain-text table of a ``classification_report`` (columns line up for CJK labels too)."""
    names = report["labels"]
    width = max(12, *(_columns(n) for n in names))
    lines = [
        f"{'label':<{width}} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>9}",
        "-" * (width + 40),
    ]
    for name in names:
        c = report["per_class"][name]
        figures = " ".join(f"{c[k]:>9.4f}" if c[k] is not None else f"{'–':>9}" for k in ("precision", "recall", "f1"))
        lines.append(f"{_left(name, width)} {figures} {c['support']:>9d}")
    lines.append("-" * (width + 40))
    skipped = report.get("empty_texts_skipped")
    skipped = (f"; {skipped} row{'' if skipped == 1 else 's'} with an empty text skipped"
               + (" in the file it is held out of" if " held out" in str(report.get("test_data")) or
                  str(report.get("test_data", "")).startswith("fold ") else "")) if skipped else ""
    lines.append(f"{'accuracy':<{width}} {report['accuracy']:>9.4f}   ({report['num_examples']} examples{skipped})")
    counted = report.get("macro_f1_classes", len(names))
    absent = f"   (over {counted} of {len(names)} classes: the others have no example here and were never predicted)"
    lines.append(f"{'macro-F1':<{width}} {report['macro_f1']:>9.4f}" + (absent if counted < len(names) else ""))
    cm = report["confusion_matrix"]
    if len(names) > MAX_PRINTED_CLASSES:
        lines.append(f"\nconfusion matrix: {len(names)} classes, too many to print; it is in the JSON report")
        return "\n".join(lines)
    cell = max(5, *(len(str(v)) for row in cm for v in row), *(_columns(n) for n in names))
    lines.append("")
    lines.append("confusion matrix (rows: true, columns: predicted)")
    lines.append(" " * width + " " + " ".join(_right(n, cell) for n in names))
    for name, row in zip(names, cm):
        lines.append(f"{_left(name, width)} " + " ".join(f"{v:>{cell}d}" for v in row))
    return "\n".join(lines)


def save_report(report: dict, path: str | os.PathLike) -> None:
    """Write the report as indented JSON (atomically)."""
    atomic_write(path, (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


MAX_PRINTED_CLASSES = 30  # above this, the console report leaves the confusion matrix out
MAX_ANNOTATED_CLASSES = 30  # above this, the plot has no count in each cell
MAX_PLOTTED_CLASSES = 200  # above this, no plot (its size and time grow with the square)


def _font_for(names: Sequence[str]):
    """``None`` when matplotlib's default font draws every character of ``names``; else the
    ``FontProperties`` of an installed font that does, or ``False`` when none does."""
    from matplotlib import font_manager

    text = "".join(names)
    if _draws(font_manager.findfont(font_manager.FontProperties()), text):
        return None
    for entry in font_manager.fontManager.ttflist:
        if "last resort" not in entry.name.lower() and _draws(entry.fname, text):  # its "glyphs" are the boxes
            return font_manager.FontProperties(fname=entry.fname)
    return False


def _draws(path: str, text: str) -> bool:
    """Whether the font file ``path`` has a glyph for every character of ``text`` but spaces."""
    face = _face(path)
    return face is not None and all(face.get_char_index(ord(c)) for c in set(text) if not c.isspace())


@functools.lru_cache(maxsize=None)
def _face(path: str):
    """The font file ``path`` opened once (a plot asks it of each label), or None if unreadable."""
    from matplotlib import ft2font

    try:
        return ft2font.FT2Font(path)
    except (OSError, RuntimeError):
        return None


def _tick_names(names: Sequence[str]) -> tuple[list[str], object]:
    """The names to draw and the font to draw them in (``None``: matplotlib's default; ``False``:
    the default, and no installed font draws every name: e.g. Chinese without a CJK font, or an
    emoji). Then a name the default font cannot draw is ``#N``, its place in the labels; the
    others keep their names (numbering them all made a row marked 1 read as the label "1")."""
    font = _font_for(names)
    if font is not False:
        return list(names), font
    from matplotlib import font_manager

    default = font_manager.findfont(font_manager.FontProperties())
    return [name if _draws(default, name) else f"#{i}" for i, name in enumerate(names)], False


def plot_confusion_matrix(report: dict, path: str | os.PathLike, title: str = "Confusion matrix") -> bool:
    """Save the confusion matrix of a report as a PNG (counts, rows normalised for colour).
    Returns False, writing nothing, for more than ``MAX_PLOTTED_CLASSES`` classes."""
    if len(report["labels"]) > MAX_PLOTTED_CLASSES:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(report["confusion_matrix"])
    names = report["labels"]
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    names, font = _tick_names(names)
    annotate = len(names) <= MAX_ANNOTATED_CLASSES
    # without counts: 7-point names, in rows of at least 0.14 inch (14 pixels), so that they do not overlap
    size = max(4.0, 0.6 * len(names) + 2) if annotate else max(20.0, 0.14 * len(names) + 4)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    fontsize = None if annotate else 7.0
    ax.set_xticks(range(len(names)), names, rotation=45 if annotate else 90, ha="right" if annotate else "center",
                  fontsize=fontsize, fontproperties=font or None)
    ax.set_yticks(range(len(names)), names, fontsize=fontsize, fontproperties=font or None)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if font is False:
        fig.text(0.5, 0.005, "#N: the label at place N (from 0) of the JSON report's labels\n(no installed font "
                 "draws its name)", ha="center", va="bottom", fontsize=8)
    ax.set_title(f"{title} (accuracy {report['accuracy']:.4f})")
    if annotate:
        for i in range(cm.shape[0]):
            for j in range(cm.shape[1]):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", color="white" if norm[i, j] > 0.5 else "black")
    fig.tight_layout(rect=(0, 0.06, 1, 1) if font is False else None)
    try:
        atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100))
    finally:
        plt.close(fig)
    return True
