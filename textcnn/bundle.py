"""The JSON side of a bundle, torch-free: format constants, ``BundleError``,
``read_bundle_config`` and ``BundleText`` (texts -> padded id batches), shared by ``export`` /
``api`` (torch) and ``onnx_predict`` (onnxruntime only)."""
from __future__ import annotations

import json
import numbers
import os
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence, Union

import numpy as np

from .text import Vocab, min_padded_len, saved_tokenizer

__all__ = ["BUNDLE_FORMAT", "BUNDLE_VERSION", "WEIGHTS_FILE", "CONFIG_FILE", "ONNX_FILE", "ONNX_WEIGHTS_KEY", "BundleError",
           "read_bundle_config", "Prediction", "BundleText", "as_texts", "positive_int"]

BUNDLE_FORMAT = "textcnn-bundle"
BUNDLE_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "textcnn.json"
ONNX_FILE = "model.onnx"
BUNDLE_FILES = (WEIGHTS_FILE, CONFIG_FILE, ONNX_FILE, f".{ONNX_FILE}.tmp")  # the last: an ONNX export cut short
ONNX_WEIGHTS_KEY = "textcnn.weights_sha256"  # model.onnx metadata: the SHA-256 of the weights it was made from
_REQUIRED = ("model", "vocab", "labels", "tokenizer")
# Padded tokens per text a prediction batch may hold on average (see BundleText.padded_batches):
# above any sentence, so sentences batch as before; a long text goes with few others or alone.
TOKENS_PER_ROW = 128


class BundleError(ValueError):
    """A bundle that cannot be written or read; the message names the file and what is wrong."""


def _int_at_least(value, least: int) -> bool:
    """Whether ``value`` is an integer (not a bool, which JSON's true would be) of ``least`` or more."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def read_bundle_config(path: str | os.PathLike) -> dict:
    """Read and check ``textcnn.json`` of the bundle at ``path``."""
    path = Path(path)
    cfg_path = path / CONFIG_FILE
    if not path.exists():
        old = path.with_name(f".{path.name}.old")
        if (old / CONFIG_FILE).is_file():  # an export stopped between its two renames
            raise BundleError(f"{path}: no such bundle folder, but {old} holds the bundle an interrupted export was "
                              "replacing; load again once that export is done, or rename it back")
        raise BundleError(f"{path}: no such bundle folder; give the folder written by `textcnn export`")
    if not cfg_path.is_file():
        raise BundleError(f"{path}: not a textcnn bundle (no {CONFIG_FILE}); create one with `textcnn export`")
    try:
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BundleError(f"{cfg_path}: not valid JSON ({e}); re-export the bundle") from None
    if not isinstance(config, dict):
        raise BundleError(f"{cfg_path}: expected a JSON object, found {type(config).__name__}; re-export the bundle")
    if config.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{cfg_path}: format is {config.get('format')!r}, expected {BUNDLE_FORMAT!r}")
    for key, least in (("version", 0), ("min_len", 0), ("max_len", 1)):
        value = config.get(key)
        if value is not None and not _int_at_least(value, least):
            raise BundleError(f"{cfg_path}: {key!r} is {value!r}; expected an integer >= {least} or null, as "
                              "textcnn writes; re-export the bundle")
    if config.get("version", 0) > BUNDLE_VERSION:
        raise BundleError(
            f"{cfg_path}: bundle version {config['version']} is newer than this textcnn reads "
            f"({BUNDLE_VERSION}); upgrade textcnn"
        )
    missing = [k for k in _REQUIRED if k not in config]
    if missing:
        raise BundleError(f"{cfg_path}: missing {', '.join(missing)}")
    for key, kind in (("model", dict), ("vocab", list), ("labels", list), ("tokenizer", (dict, str))):
        if not isinstance(config[key], kind):
            raise BundleError(f"{cfg_path}: {key!r} is a {type(config[key]).__name__}, not what textcnn writes; "
                              "re-export the bundle")
    labels = config["labels"]
    if not all(isinstance(label, str) for label in labels) or len(set(labels)) != len(labels):
        raise BundleError(f"{cfg_path}: 'labels' must be distinct strings, one per class; found {labels[:20]!r}")
    _check_model_config(config["model"], cfg_path)
    widest = max(config["model"].get("kernel_sizes") or (float("inf"),))
    if (config.get("min_len") or 0) > widest:  # the most any textcnn pads to is its widest window
        raise BundleError(f"{cfg_path}: 'min_len' is {config['min_len']}, more than the widest window ({widest}) "
                          "textcnn pads to; the file was edited or damaged: re-export the bundle")
    if "weights_sha256" in config and not (isinstance(config["weights_sha256"], str)
                                           and len(config["weights_sha256"]) == 64):
        raise BundleError(f"{cfg_path}: 'weights_sha256' is {config['weights_sha256']!r}, not the SHA-256 textcnn "
                          "writes (64 hex digits); the file was edited or damaged: re-export the bundle")
    return config


# The types textcnn writes for the model's settings (their values are TextCNN's to check).
_INT_SETTINGS = {"vocab_size": 2, "num_classes": 2, "embed_dim": 1, "num_filters": 1, "pool_k": 1, "padding_idx": 0,
                 "highway": 0}
_NAME_SETTINGS = ("variant", "act_layer", "norm_layer", "pooling", "init", "conv_padding")


def _check_model_config(model: dict, cfg_path: Path) -> None:
    """A BundleError naming the setting of ``model`` (the bundle's ``"model"``) that has a type
    textcnn never writes, before it reaches the model as a riddle ('<' not supported between
    'str' and 'int')."""
    def bad(key: str, expected: str) -> BundleError:
        return BundleError(f"{cfg_path}: model setting {key!r} is {model[key]!r}; expected {expected}, as textcnn "
                           "writes; re-export the bundle")

    for key, least in _INT_SETTINGS.items():
        value = model.get(key)
        if key in model and not _int_at_least(value, least):
            raise bad(key, f"an integer >= {least}")
    for key in _NAME_SETTINGS:
        if model.get(key) is not None and not isinstance(model[key], str):
            raise bad(key, "a name (a string)")
    sizes = model.get("kernel_sizes")
    if "kernel_sizes" in model and not (isinstance(sizes, list) and sizes and all(
            _int_at_least(k, 1) for k in sizes)):
        raise bad("kernel_sizes", "a list of window widths (integers >= 1)")
    rate = model.get("drop_rate")
    if "drop_rate" in model and (isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1):
        raise bad("drop_rate", "a number from 0 to below 1")
    if isinstance(model.get("padding_idx"), int) and isinstance(model.get("vocab_size"), int) \
            and model["padding_idx"] >= model["vocab_size"]:
        raise bad("padding_idx", f"an id of the vocabulary (below its {model['vocab_size']} entries)")


def positive_int(name: str, value) -> int:
    """``value`` when it is a positive integer, else ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def as_texts(texts) -> list[str]:
    """``texts`` (a str, or an iterable of str) as a list; TypeError saying what is expected and
    where it is not."""
    if isinstance(texts, str):
        return [texts]
    table = hasattr(texts, "columns") and hasattr(texts, "iloc")  # a pandas DataFrame iterates its column names
    if isinstance(texts, (bytes, bytearray, Mapping, Set)) or table or not isinstance(texts, Iterable):
        hint = (" (decode it first, e.g. texts.decode('utf-8'))" if isinstance(texts, (bytes, bytearray))
                else " (unordered; pass a list so the results follow its order)" if isinstance(texts, Set)
                else " (iterating it gives its column names; pass the column of texts, e.g. df['text'])" if table
                else "")
        raise TypeError(f"texts must be a str or a list of str; got {type(texts).__name__}{hint}")
    texts = texts if isinstance(texts, list) else list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] is {type(text).__name__}, expected str")
    return texts


@dataclass(frozen=True)
class Prediction:
    """The predicted ``label`` of one text and the ``probabilities`` of every label (in the
    order of the classifier's ``labels``). Unpacks as a pair: ``label, probabilities = p``."""

    label: str
    probabilities: dict[str, float]

    @property
    def score(self) -> float:
        """Probability of the predicted label."""
        return self.probabilities[self.label]

    def __iter__(self) -> Iterator[Any]:  # a str, then a dict: a type checker cannot pair them
        yield self.label
        yield self.probabilities

    def to_dict(self) -> dict[str, Any]:
        """``{"label", "score", "probabilities"}``, plain types, for ``json.dumps``."""
        return {"label": self.label, "score": self.score, "probabilities": dict(self.probabilities)}


class BundleText:
    """The text side of a bundle: tokenizer, vocabulary, labels and length rules (truncate to
    ``max_len``; pad to at least the model's ``min_len``). Base of ``TextClassifier`` and
    ``OnnxClassifier``, so both see exactly the same ids."""

    def __init__(self, config: dict):
        self.config = config
        self.labels: list[str] = list(config["labels"])
        try:
            self.vocab = Vocab(config["vocab"])
            self.tokenizer = saved_tokenizer(config["tokenizer"])
        except ValueError as e:
            raise BundleError(f"{CONFIG_FILE}: {e}; re-export the bundle") from None
        self.max_len: Optional[int] = config.get("max_len")
        model = config["model"]
        if isinstance(model, dict) and model.get("vocab_size") not in (None, len(self.vocab)):
            raise BundleError(f"{CONFIG_FILE}: the vocabulary has {len(self.vocab)} entries, but the model was made "
                              f"for {model['vocab_size']}; the file was edited or damaged: re-export the bundle")
        self.min_len = max(int(config.get("min_len") or 1),
                           min_padded_len(model.get("kernel_sizes"), model.get("conv_padding", "valid")))

    def tokenize(self, text: str) -> list[str]:
        """The tokens the model sees for ``text`` (after truncation to ``max_len``)."""
        tokens = self.tokenizer(text)
        return tokens[: self.max_len] if self.max_len else tokens

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text."""
        tokens = self.tokenizer.tokenize_many(texts)
        return [self.vocab.encode(t[: self.max_len] if self.max_len else t) for t in tokens]

    def padded_batches(self, ids: Sequence[Sequence[int]], batch_size: int) -> Iterator[tuple[list[int], np.ndarray]]:
        """``(rows, tokens)`` pairs: indices into ``ids`` (one list of token ids per text) and their
        ``(B, L)`` int64 ids, right-padded with 0. Texts of similar length go together to waste less
        padding; the model masks padding, so the grouping changes no probability. A batch holds at
        most ``batch_size`` texts and ``batch_size * TOKENS_PER_ROW`` tokens with its padding, so
        that a long text goes with few others (alone, past that budget), not padding a whole batch
        of short ones to its length."""
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        budget = batch_size * TOKENS_PER_ROW
        rows: list[int] = []
        for i in order:  # each text is the longest of its batch so far
            if rows and (len(rows) == batch_size or (len(rows) + 1) * max(len(ids[i]), self.min_len) > budget):
                yield rows, self.pad([ids[r] for r in rows])
                rows = []
            rows.append(i)
        if rows:
            yield rows, self.pad([ids[r] for r in rows])

    def predict_proba(self, texts: Union[str, Iterable[str]], batch_size: int = 256) -> np.ndarray:
        """``(N, C)`` probabilities, rows in the order of ``texts``, columns in ``self.labels``.

        ``texts`` is a str or an iterable of str (anything else, a pandas DataFrame too: TypeError;
        pass its column of texts); an empty text gets the model's answer for no tokens. A text is
        cut to the bundle's ``max_len`` tokens; with none (``null``), memory grows with the longest
        text. ``batch_size`` must be a positive integer."""
        return self.proba_of_ids(self.encode(as_texts(texts)), batch_size)

    def predict(self, texts: Union[str, Iterable[str]], batch_size: int = 256) -> list[Prediction]:
        """The label and the probabilities of every label, for each text (``texts`` and
        ``batch_size`` as in ``predict_proba``)."""
        return [
            Prediction(self.labels[int(row.argmax())], {name: float(p) for name, p in zip(self.labels, row)})
            for row in self.predict_proba(texts, batch_size)
        ]

    def predict_logits(self, texts: Union[str, Iterable[str]], batch_size: int = 256) -> np.ndarray:
        """``(N, C)`` logits, the scores before the softmax (for calibration, ensembles or a
        margin), rows and columns as in ``predict_proba``, which is their softmax."""
        return self._of_ids(self.encode(as_texts(texts)), batch_size, self.batch_logits)

    def proba_of_ids(self, ids: Sequence[Sequence[int]], batch_size: int = 256) -> np.ndarray:
        """``predict_proba`` of texts already turned into token ids by ``encode``."""
        return self._of_ids(ids, batch_size, self.batch_proba)

    def _of_ids(self, ids: Sequence[Sequence[int]], batch_size: int, per_batch) -> np.ndarray:
        batch_size = positive_int("batch_size", batch_size)
        out = np.empty((len(ids), len(self.labels)), dtype=np.float32)
        for rows, tokens in self.padded_batches(ids, batch_size):
            out[rows] = per_batch(tokens)
        return out

    def batch_proba(self, tokens: np.ndarray) -> np.ndarray:
        """``(B, L)`` int64 token ids -> ``(B, C)`` probabilities: the model's part, per subclass."""
        raise NotImplementedError

    def batch_logits(self, tokens: np.ndarray) -> np.ndarray:
        """``(B, L)`` int64 token ids -> ``(B, C)`` logits: the model's part, per subclass."""
        raise NotImplementedError

    def pad(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        """``(B, max(longest, min_len))`` int64 ids, right-padded with 0 (the padding id)."""
        tokens = np.zeros((len(ids), max(self.min_len, max((len(x) for x in ids), default=0))), dtype=np.int64)
        for r, x in enumerate(ids):
            tokens[r, : len(x)] = x
        return tokens
