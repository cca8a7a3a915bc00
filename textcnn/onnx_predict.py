"""Run an exported bundle with onnxruntime and numpy only (no torch): what a service needs.

    from textcnn.onnx_predict import OnnxClassifier
    clf = OnnxClassifier.load("bundles/mr")          # model.onnx + textcnn.json
    clf.predict_proba(["a gorgeous, witty, seductive movie."])   # (N, C), columns clf.labels
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence, Union

import numpy as np

from .bundle import ONNX_FILE, BundleError, read_bundle_config
from .text import Vocab, build_tokenizer

__all__ = ["OnnxClassifier", "onnx_predict"]


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


class OnnxClassifier:
    """A bundle's ``model.onnx`` with its tokenizer, vocabulary and labels (torch-free twin of
    ``TextClassifier``: same tokens, same padding, same probabilities to ~1e-6)."""

    def __init__(self, path: str | os.PathLike, providers: Sequence[str] = ("CPUExecutionProvider",)):
        import onnxruntime as ort

        path = Path(path)
        self.config = config = read_bundle_config(path)
        if not (path / ONNX_FILE).is_file():
            raise BundleError(
                f"{path}: no {ONNX_FILE}; create it with `textcnn export --bundle {path} --format onnx`"
            )
        self.labels: list[str] = list(config["labels"])
        self.vocab = Vocab(config["vocab"])
        self.tokenizer = build_tokenizer(config["tokenizer"])
        self.max_len = config.get("max_len")
        self.min_len = max(int(config.get("min_len") or 1), max(config["model"].get("kernel_sizes", (3, 4, 5))))
        self.session = ort.InferenceSession(str(path / ONNX_FILE), providers=list(providers))

    @classmethod
    def load(cls, path: str | os.PathLike, **kwargs) -> "OnnxClassifier":
        """Same as the constructor; mirrors ``TextClassifier.load``."""
        return cls(path, **kwargs)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, truncated to ``max_len`` as in training."""
        out = []
        for text in texts:
            tokens = self.tokenizer(text)
            out.append(self.vocab.encode(tokens[: self.max_len] if self.max_len else tokens))
        return out

    def predict_proba(self, texts: Union[str, Sequence[str]], batch_size: int = 256) -> np.ndarray:
        """``(N, C)`` probabilities, rows in the order of ``texts``, columns in ``self.labels``."""
        if isinstance(texts, str):
            texts = [texts]
        ids = self.encode(texts)
        out = np.empty((len(ids), len(self.labels)), dtype=np.float32)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            width = max(self.min_len, max(len(ids[i]) for i in chunk))
            tokens = np.zeros((len(chunk), width), dtype=np.int64)  # id 0 is padding
            for row, i in enumerate(chunk):
                tokens[row, : len(ids[i])] = ids[i]
            (logits,) = self.session.run(["logits"], {"tokens": tokens})
            out[chunk] = _softmax(logits.astype(np.float64))
        return out

    def predict(self, texts: Union[str, Sequence[str]], batch_size: int = 256) -> list[tuple[str, dict[str, float]]]:
        """``(label, {label: probability})`` for each text."""
        return [
            (self.labels[int(row.argmax())], {name: float(p) for name, p in zip(self.labels, row)})
            for row in self.predict_proba(texts, batch_size)
        ]


def onnx_predict(bundle: str | os.PathLike, texts: Sequence[str]) -> list[tuple[str, dict[str, float]]]:
    """One-shot: load ``bundle``'s ``model.onnx`` and label ``texts``. ``textcnn.json`` names the
    labels and the tokenizer; see ``OnnxClassifier`` to keep the session for many calls."""
    return OnnxClassifier(bundle).predict(texts)
