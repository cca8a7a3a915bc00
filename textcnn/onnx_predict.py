"""Run an exported bundle with onnxruntime and numpy only (no torch): what a service needs.

    from textcnn.onnx_predict import OnnxClassifier
    clf = OnnxClassifier.load("bundles/mr")          # model.onnx + textcnn.json
    clf.predict_proba(["a gorgeous, witty, seductive movie."])   # (N, C), columns clf.labels
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence, Union

import numpy as np

from .bundle import (
    CONFIG_FILE, ONNX_FILE, ONNX_WEIGHTS_KEY, WEIGHTS_FILE, BundleError, BundleText, Prediction, read_bundle_config,
)

__all__ = ["OnnxClassifier", "Prediction", "onnx_predict"]


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


class OnnxClassifier(BundleText):
    """A bundle's ``model.onnx`` with its tokenizer, vocabulary and labels (torch-free twin of
    ``TextClassifier``: same tokens, same padding, same probabilities to ~1e-5).

    ``providers``: onnxruntime execution providers, a name or a list in order of preference;
    ``self.session.get_providers()`` says which are in use."""

    def __init__(self, path: str | os.PathLike, providers: Union[str, Sequence[str]] = ("CPUExecutionProvider",)):
        try:
            import onnxruntime as ort
        except ModuleNotFoundError as e:
            if e.name != "onnxruntime":
                raise
            raise ModuleNotFoundError("OnnxClassifier needs onnxruntime: pip install onnxruntime (in a checkout: "
                                      "pip install -e \".[export]\")", name="onnxruntime") from None

        path = Path(path)
        super().__init__(read_bundle_config(path))
        self.path = path
        onnx_path = path / ONNX_FILE
        if not onnx_path.is_file():
            raise BundleError(
                f"{path}: no {ONNX_FILE}; create it with `textcnn export --bundle {path} --format onnx`"
            )
        from onnxruntime.capi import onnxruntime_pybind11_state as ort_state

        # onnxruntime's own exceptions (InvalidProtobuf, InvalidArgument, ...), all plain Exceptions
        ort_errors = tuple(c for c in vars(ort_state).values() if isinstance(c, type) and issubclass(c, Exception))
        remedy = f"re-create it with `textcnn export --bundle {path} --format onnx`"

        def why(error: Exception) -> str:
            first = (str(error).strip().splitlines() or [""])[0]
            return f"{type(error).__name__}: {first[:300]}"

        try:
            self.session = ort.InferenceSession(str(onnx_path), providers=[providers] if isinstance(providers, str)
                                                else list(providers))
        except ort_errors as e:  # empty, cut short, or not an ONNX file
            raise BundleError(f"{onnx_path}: onnxruntime cannot load it ({why(e)}); {remedy}") from None
        made_from = self.session.get_modelmeta().custom_metadata_map.get(ONNX_WEIGHTS_KEY)
        if made_from and self.config.get("weights_sha256") and made_from != self.config["weights_sha256"]:
            raise BundleError(f"{onnx_path}: made from other weights than this bundle's {WEIGHTS_FILE}; {remedy}")
        classes = self.session.get_outputs()[0].shape[-1]
        if isinstance(classes, int) and classes != len(self.labels):
            raise BundleError(f"{onnx_path}: gives {classes} classes, but {CONFIG_FILE} has {len(self.labels)} "
                              f"labels; {remedy}")
        # the graph's table must hold every id of the vocabulary, or the first text with the
        # last words fails in onnxruntime at request time: one text of the last id now says so
        quiet = ort.RunOptions()
        quiet.log_severity_level = 4  # the failure is said below, not logged as well
        try:
            self.session.run(["logits"], {"tokens": self.pad([[len(self.vocab) - 1]])}, quiet)
        except ort_errors as e:
            raise BundleError(f"{onnx_path}: fails on the last id of the vocabulary of {CONFIG_FILE} "
                              f"({len(self.vocab)} entries; {why(e)}); {remedy}") from None

    @classmethod
    def load(cls, path: str | os.PathLike[str],
             providers: Union[str, Sequence[str]] = ("CPUExecutionProvider",)) -> "OnnxClassifier":
        """Same as the constructor; mirrors ``TextClassifier.load``."""
        return cls(path, providers=providers)

    def batch_proba(self, tokens: np.ndarray) -> np.ndarray:
        """``(B, L)`` int64 token ids -> ``(B, C)`` probabilities (``predict_proba`` calls it)."""
        return _softmax(self.batch_logits(tokens).astype(np.float64))

    def batch_logits(self, tokens: np.ndarray) -> np.ndarray:
        """``(B, L)`` int64 token ids -> ``(B, C)`` logits (``predict_logits`` calls it)."""
        (logits,) = self.session.run(["logits"], {"tokens": tokens})
        return logits

    def __repr__(self) -> str:
        return (f"OnnxClassifier(path={str(self.path)!r}, labels={self.labels}, vocab={len(self.vocab)}, "
                f"providers={self.session.get_providers()})")


def onnx_predict(bundle: str | os.PathLike[str], texts: Union[str, Iterable[str]]) -> list[Prediction]:
    """One-shot: load ``bundle``'s ``model.onnx`` and label ``texts``. ``textcnn.json`` names the
    labels and the tokenizer; see ``OnnxClassifier`` to keep the session for many calls."""
    return OnnxClassifier(bundle).predict(texts)
