"""``TextClassifier``: load a bundle and classify texts from any Python program.
No Trainer, no Lightning, no gradio."""
from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Optional, Sequence, Union

import numpy as np
import torch

from .bundle import BundleText, Prediction
from .export import load_bundle
from .model import TextCNN
from .text import _INVISIBLE, _MARKS

__all__ = ["Prediction", "Explanation", "TextClassifier"]


@dataclass(frozen=True)
class Explanation:
    """Which tokens drove a prediction: ``scores[i]`` is token ``tokens[i]``'s share of the
    predicted label's logit (positive: supports the label), from the max-pooled windows.

    ``known[i]`` says whether ``tokens[i]`` is in the model's vocabulary (an unknown token is
    read as the unknown-word vector); ``offsets[i]`` is its ``(start, end)`` in ``text``, or
    None where the token cannot be placed there (a character Unicode normalisation changed)."""

    label: str
    probabilities: dict[str, float]
    tokens: list[str]
    scores: list[float]
    separator: str = " "
    known: list[bool] = field(default_factory=list)
    offsets: list[Optional[tuple[int, int]]] = field(default_factory=list)
    text: str = ""

    @property
    def unknown(self) -> list[str]:
        """The tokens not in the model's vocabulary, each once, in text order."""
        return list(dict.fromkeys(t for t, k in zip(self.tokens, self.known) if not k))

    def spans(self) -> list[tuple[str, float]]:
        """``(token + separator, score)`` pairs with scores scaled to [-1, 1] by the largest
        magnitude: the format of a highlighted text (e.g. ``gr.HighlightedText``)."""
        top = max((abs(s) for s in self.scores), default=0.0) or 1.0
        return [(t + self.separator, s / top) for t, s in zip(self.tokens, self.scores)]

    def segments(self) -> list[tuple[str, Optional[float]]]:
        """``text`` cut into pieces that join back to it: each token's piece with its score
        scaled as in ``spans``, the text between tokens with None. Falls back to ``spans()``
        when a token cannot be placed in ``text``."""
        if not self.tokens:  # nothing the tokenizer kept: the text as it is, unscored
            return [(self.text, None)] if self.text else []
        if len(self.offsets) != len(self.tokens) or None in self.offsets:
            return list(self.spans())
        top = max(abs(s) for s in self.scores) or 1.0
        out: list[tuple[str, Optional[float]]] = []
        end = 0
        for (start, stop), s in zip(self.offsets, self.scores):
            if start > end:
                out.append((self.text[end:start], None))
            out.append((self.text[start:stop], s / top))
            end = stop
        if end < len(self.text):
            out.append((self.text[end:], None))
        return out


def _token_offsets(text: str, tokens: Sequence[str], form: str = "NFC",
                   drop_invisible: bool = False) -> list[Optional[tuple[int, int]]]:
    """Where each token of ``text`` lies in it: tokens are found left to right in ``text`` read
    as the tokenizers read it, one character with its combining marks at a time: put in Unicode
    ``form`` and lowercased (so a decomposed accent, a dotted capital I or a full-width letter
    still lines up with its token, and a span covers the characters its token came from), curly apostrophes
    read as straight ones, a final sigma as a sigma and, with ``drop_invisible``, without the
    invisible characters the tokenizer dropped. None for a token not found (a normalisation
    across characters, as of Hangul jamo)."""
    view: list[str] = []
    where: list[tuple[int, int]] = []  # for each character of the view, the span of text it came from
    for m in _CLUSTER.finditer(text):
        cluster = _INVISIBLE.sub("", m.group()) if drop_invisible else m.group()
        read = _fold(unicodedata.normalize(form, cluster).lower()) if cluster else ""
        view.append(read)
        where += [m.span()] * len(read)
    joined = "".join(view)
    out: list[Optional[tuple[int, int]]] = []
    cursor = 0
    for token in tokens:
        wanted = _fold(token.lower())
        start = joined.find(wanted, cursor) if wanted else -1
        if start < 0:
            out.append(None)
            continue
        out.append((where[start][0], where[start + len(wanted) - 1][1]))
        cursor = start + len(wanted)
    return out


_CLUSTER = re.compile(f"(?s).[{_MARKS}]*")  # a character and the combining marks after it


def _fold(text: str) -> str:
    """What the tokenizers' reading leaves of ``text`` whatever the context: straight apostrophes,
    and a final sigma as a sigma (lowercasing a whole text makes a word's last sigma final)."""
    return text.replace("\u2019", "'").replace("\u2018", "'").replace("\u03c2", "\u03c3")


class TextClassifier(BundleText):
    """A trained TextCNN with its tokenizer, vocabulary and labels.

    >>> clf = TextClassifier.load("checkpoints/mr-multichannel-glove50")
    >>> clf.predict(["a gorgeous, witty film"])[0].label
    'positive'
    """

    def __init__(self, model: TextCNN, config: dict, device: Union[str, torch.device] = "cpu",
                 path: Optional[str | os.PathLike] = None):
        super().__init__(config)
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.path = path  # the bundle folder, when loaded from one
        _one_thread_after_fork()

    @classmethod
    def load(cls, path: str | os.PathLike, device: Optional[Union[str, torch.device]] = None) -> "TextClassifier":
        """Load a bundle folder written by ``textcnn export``. ``device``: ``"cpu"``, ``"cuda"``,
        ``"cuda:1"``, a ``torch.device``; ``None`` (the default) means CUDA when available, else CPU."""
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        elif not isinstance(device, (str, torch.device)):
            raise TypeError(f"device must be a str such as 'cpu' or 'cuda:0', a torch.device or None; got {device!r}")
        try:
            kind = torch.device(device).type
        except RuntimeError as e:
            raise ValueError(f"device {device!r}: {e}") from None
        if kind == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {device!r}: no CUDA GPU here (torch {torch.__version__}); use 'cpu'")
        if kind not in ("cpu", "cuda"):  # e.g. meta (loads, then cannot predict) or mps (not in these builds)
            raise ValueError(f"device {device!r}: expected 'cpu', 'cuda' or 'cuda:N'")
        model, config = load_bundle(path, device=device)
        return cls(model, config, device=device, path=path)

    def _logits(self, tokens: np.ndarray) -> torch.Tensor:
        return self.model(torch.from_numpy(tokens).to(self.device)).float()

    @torch.inference_mode()
    def batch_proba(self, tokens: np.ndarray) -> np.ndarray:
        """``(B, L)`` int64 token ids -> ``(B, C)`` probabilities (``predict_proba`` calls it)."""
        return torch.softmax(self._logits(tokens), dim=-1).cpu().numpy()

    @torch.inference_mode()
    def batch_logits(self, tokens: np.ndarray) -> np.ndarray:
        """``(B, L)`` int64 token ids -> ``(B, C)`` logits (``predict_logits`` calls it)."""
        return self._logits(tokens).cpu().numpy()

    @torch.inference_mode()
    def explain(self, text: str) -> Explanation:
        """Predict ``text`` and say which tokens drove it (max pooling only).

        Each filter's 1-max picks one window (its tokens: ``TextCNN.window_tokens``); its contribution to the
        predicted class is ``pooled value x head weight[pred, feature]`` (no dropout at
        inference). A window's contribution is spread evenly over its tokens, and the
        token scores therefore sum to the predicted logit minus the head's bias. With highway
        layers the head weight is replaced by the gradient of the predicted logit with respect
        to the pooled value (gradient x input, the same for a linear head), and the sum is the
        first-order part of the logit only. An empty text
        gives no tokens (and the model's answer for padding alone); anything but a str is a
        TypeError.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str; got {type(text).__name__}")
        model = self.model
        if model.pool.mode != "max":
            raise ValueError(
                f"explanations need max pooling (each filter picks one window); this model pools "
                f"with {model.pool.mode!r}"
            )
        tokens = self.tokenize(text)
        encoded = self.vocab.encode(tokens)
        ids = torch.from_numpy(self.pad([encoded])).to(self.device)
        values, starts = [], []
        model.check_input(ids)
        masks = [model.window_mask(ids, k) for k in model.kernel_sizes]
        for fmap, mask, k in zip(model.forward_conv(ids, masks), masks, model.kernel_sizes):
            fmap = fmap.masked_fill(~mask.unsqueeze(1), float("-inf"))
            v, t = fmap[0].max(dim=1)  # (F,) pooled value and winning window start per filter
            values.append(v)
            starts.extend((int(i), k) for i in t)
        pooled = torch.cat(values).float()  # (num_features,)
        probs = torch.softmax(model.forward_head(pooled.unsqueeze(0).to(values[0].dtype)).float(), -1)[0]
        pred = int(probs.argmax())
        if model.highway is None:
            weight = model.head.weight[pred].float()
        else:
            with torch.inference_mode(False), torch.enable_grad():
                x = pooled.clone().to(values[0].dtype).requires_grad_(True)
                (weight,) = torch.autograd.grad(model.forward_head(x.unsqueeze(0))[0, pred], x)
            weight = weight.float()
        contrib = (pooled * weight).cpu().tolist()
        scores = [0.0] * len(tokens)
        for c, (start, k) in zip(contrib, starts):
            window = model.window_tokens(start, k, len(tokens))  # padding carries no share
            for i in window:
                scores[i] += c / len(window)
        return Explanation(
            label=self.labels[pred],
            probabilities={name: float(p) for name, p in zip(self.labels, probs.cpu().tolist())},
            tokens=tokens,
            scores=scores,
            separator="" if self.config["tokenizer"].get("type") == "char" else " ",
            known=[i != self.vocab.unk_id for i in encoded],
            offsets=_token_offsets(text, tokens, getattr(self.tokenizer, "form", "NFC"),
                                   getattr(self.tokenizer, "drop_invisible", False)),
            text=text,
        )

    def __repr__(self) -> str:
        cfg = self.config["model"]
        where = f"path={os.fspath(self.path)!r}, " if self.path is not None else ""
        return (
            f"TextClassifier({where}variant={cfg['variant']!r}, labels={self.labels}, vocab={len(self.vocab)}, "
            f"device={self.device})"
        )


_FORK_HOOKED = False


def _one_thread_after_fork() -> None:
    """Make a process forked from this one (gunicorn --preload, Celery prefork, multiprocessing's
    fork) run torch on one CPU thread: torch's OpenMP thread pool does not survive fork, and
    without this the child's first multi-threaded operation can hang for ever."""
    global _FORK_HOOKED
    if not _FORK_HOOKED and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=lambda: torch.set_num_threads(1))
        _FORK_HOOKED = True
