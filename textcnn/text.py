"""Tokenizers (word, char) and the vocabulary that maps tokens to ids. Pure Python."""

from __future__ import annotations

import gc
import itertools
import json
import operator
import os
import re
import string
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any, Protocol, Union, runtime_checkable

from .fileio import atomic_write

__all__ = ["PAD", "UNK", "Tokenizer", "WordTokenizer", "CharTokenizer", "build_tokenizer", "saved_tokenizer", "Vocab",
           "min_padded_len"]

PAD, UNK = "<pad>", "<unk>"


def min_padded_len(kernel_sizes, conv_padding: str = "valid") -> int:
    """The shortest padded input a conv bank of ``kernel_sizes`` accepts: its largest window,
    or 1 with ``wide`` padding (every window then overlaps the text). Torch-free, so that the
    data side (batches, bundles, the CLI) pads no more than the model needs."""
    return 1 if conv_padding == "wide" else max(kernel_sizes or (1,))


class _no_cyclic_gc:
    """Pause the cyclic garbage collector while millions of token lists are made: they hold
    only strings, so no cycles can form, and the collector would scan them all over and over
    (a third of the time of tokenising a data set). The switch is the whole process's, so only
    while this is its one thread: in a service's thread another thread's own gc.disable() could
    otherwise be undone."""

    def __enter__(self):
        self.paused = gc.isenabled() and threading.active_count() == 1
        if self.paused:
            gc.disable()

    def __exit__(self, *exc):
        if self.paused:
            gc.enable()


def _mark_ranges() -> str:
    """Character-class ranges of the combining marks (category M*) in the BMP."""
    # Marks (accents, Indic vowel signs) are not `\w`, but they belong inside words.
    ranges, start = [], None
    for cp in range(0x10000):
        is_mark = unicodedata.category(chr(cp))[0] == "M"
        if is_mark and start is None:
            start = cp
        elif not is_mark and start is not None:
            ranges.append(f"\\u{start:04x}-\\u{cp - 1:04x}")
            start = None
    return "".join(ranges)


def _invisible_ranges() -> str:
    """Character-class ranges of the invisible format characters (category Cf: zero-width space
    and joiners, soft hyphen, byte-order mark, bidirectional marks, tag characters) and the
    variation selectors (U+FE00-FE0F, U+E0100-E01EF). Every Cf character is in these planes."""
    ranges, start = [], None
    for cp in itertools.chain(range(0x20000), range(0xE0000, 0xE1000), [0x110000]):
        hidden = cp < 0x110000 and (unicodedata.category(chr(cp)) == "Cf" or 0xFE00 <= cp <= 0xFE0F
                                    or 0xE0100 <= cp <= 0xE01EF)
        if hidden and start is None:
            start = cp
        elif not hidden and start is not None:
            ranges.append(f"\\U{start:08x}-\\U{cp - 1:08x}")
            start = None
        if cp == 0x20000 - 1 and start is not None:  # the scan jumps to plane 14
            ranges.append(f"\\U{start:08x}-\\U{cp:08x}")
            start = None
    return "".join(ranges)


# Dropped before tokenizing (drop_invisible): they split words ("inter\u00adnational"), become
# tokens of their own in the char tokenizer, and break up the windows the convolutions see.
_INVISIBLE = re.compile(f"[{_invisible_ranges()}]")

# Kim's clitic rules are plain replacements ("n't" -> " n't"), so they run as str.replace.
_CLITICS = ("'s", "'ve", "n't", "'re", "'d", "'ll")
_CLITICS_ANY_CASE = _CLITICS + tuple(c.upper() for c in _CLITICS)

# Each tokenizer has a general path, one findall per text, and a path for ASCII text (most
# English) that ends in str.split: about 1.5x faster, same tokens (tests/test_text.py checks).
_MARKS = _mark_ranges()
_WORD = re.compile(rf"[\w'`{_MARKS}]+|[(),!?]")
_WORD_PUNCTUATION = tuple((mark, f" {mark} ") for mark in "(),!?")
_WORD_KEPT = frozenset((string.ascii_letters + string.digits + "'`(),!?").encode())
_WORD_ASCII_BLANK = bytes(b if b in _WORD_KEPT else ord(" ") for b in range(256))
# For many texts at once: joined by NUL, which this table keeps as the separator.
_WORD_ASCII_BLANK_KEEP_NUL = b"\x00" + _WORD_ASCII_BLANK[1:]
_CHAR = re.compile("[0-9A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff]+|\\S")
_CHAR_ASCII_NOT_SYMBOL = (string.ascii_letters + string.digits + string.whitespace).encode()


@runtime_checkable
class Tokenizer(Protocol):
    """Anything that turns a text into tokens and describes itself as a JSON-able dict."""

    def __call__(self, text: str) -> list[str]: ...

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]: ...

    def to_config(self) -> dict: ...


@dataclass(frozen=True)
class WordTokenizer:
    """Kim (2014) `clean_str` word tokenizer, extended to Unicode letters.

    Keeps letters, digits and ``'`` / `````; splits the clitics ``'s 've n't 're 'd 'll``
    and the punctuation ``, ! ( ) ?`` into their own tokens; drops everything else.
    ``"It isn't café-bad!"`` -> ``["it", "is", "n't", "café", "bad", "!"]``.

    Args:
        lowercase: lowercase the text first.
        nfkc: normalise non-ASCII text with NFKC instead of NFC, so that compatibility forms
            read as their plain letters: full-width ``ＡＢＣ１２３`` as ``abc123``, ``ﬁ`` as ``fi``.
        drop_invisible: drop invisible format characters first (zero-width space and joiners,
            soft hyphen, byte-order mark, bidirectional marks, emoji variation selectors), so
            ``"inter\u00adnational"`` is one word. Tokenizers saved before this option existed
            kept them, and still do (`saved_tokenizer`).
    """

    lowercase: bool = True
    nfkc: bool = False
    drop_invisible: bool = True

    def __call__(self, text: str) -> list[str]:
        if text.isascii():
            return self._ascii_tokens(text)
        return self._unicode_tokens(text)

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]:
        """The tokens of each text, exactly as ``[self(t) for t in texts]``. ASCII texts are
        joined and go through the string operations once: several times faster for many
        short texts (tests/test_text.py checks the two agree)."""
        texts = list(texts)
        with _no_cyclic_gc():
            out: list[list[str]] = [[] for _ in texts]
            rows = []
            for i, text in enumerate(texts):
                if text.isascii() and "\x00" not in text:
                    rows.append(i)
                else:
                    out[i] = self(text)
            if rows:
                joined = self._ascii_spaced("\x00".join([texts[i] for i in rows]), _WORD_ASCII_BLANK_KEEP_NUL)
                for i, part in zip(rows, joined.split("\x00")):
                    out[i] = part.split()
        return out

    def _ascii_tokens(self, text: str) -> list[str]:
        return self._ascii_spaced(text, _WORD_ASCII_BLANK).split()

    def _ascii_spaced(self, text: str, table: bytes) -> str:
        """ASCII ``text`` with dropped characters blanked and tokens separated by spaces."""
        text = text.encode("ascii").translate(table).decode("ascii")
        if self.lowercase:
            text = text.lower()
        for mark, spaced in _WORD_PUNCTUATION:
            if mark in text:
                text = text.replace(mark, spaced)
        return self._split_clitics(text)

    def _unicode_tokens(self, text: str) -> list[str]:
        if self.drop_invisible:
            text = _INVISIBLE.sub("", text)
        text = unicodedata.normalize(self.form, text).replace("\u2019", "'").replace("\u2018", "'")
        if self.lowercase:
            text = text.lower()
        if "_" in text:  # `\w` matches "_", Kim drops it
            text = text.replace("_", " ")
        return _WORD.findall(self._split_clitics(text))

    def _split_clitics(self, text: str) -> str:
        if "'" in text:
            for clitic in _CLITICS if self.lowercase else _CLITICS_ANY_CASE:
                text = text.replace(clitic, " " + clitic)
        return text

    @property
    def form(self) -> str:
        """The Unicode normal form non-ASCII text is put in: ``"NFKC"`` or ``"NFC"``."""
        return "NFKC" if self.nfkc else "NFC"

    def to_config(self) -> dict:
        """``{"type": "word", "lowercase": bool}`` (and ``"nfkc": true``, ``"drop_invisible": true``
        when set); `build_tokenizer` inverts it."""
        return {"type": "word", "lowercase": self.lowercase, **({"nfkc": True} if self.nfkc else {}),
                **({"drop_invisible": True} if self.drop_invisible else {})}


@dataclass(frozen=True)
class CharTokenizer:
    """Character tokenizer for Chinese and other unsegmented scripts.

    Every non-space character is a token, except that runs of Latin letters and digits
    stay whole: ``"iPhone6发布"`` -> ``["iphone6", "发", "布"]``. With ``keep_runs=False``
    they are split too, ``["i", "p", "h", "o", "n", "e", "6", "发", "布"]``: what character
    vector tables such as tencent_char_200d hold (single digits and letters, no numbers or
    words), so no token goes without a vector and "2010" shares its digits with "2011".
    Whitespace is dropped.

    Args:
        lowercase: lowercase the text first.
        keep_runs: keep runs of Latin letters and digits as one token.
        nfkc: normalise non-ASCII text with NFKC instead of NFC: full-width letters, digits and
            punctuation (common in Chinese text) read as their ASCII forms, ``１２３`` as ``123``.
        drop_invisible: drop invisible format characters first (zero-width space and joiners,
            soft hyphen, byte-order mark, bidirectional marks, emoji variation selectors), which
            would otherwise each be a token. Tokenizers saved before this option existed kept
            them, and still do (`saved_tokenizer`).
    """

    lowercase: bool = True
    keep_runs: bool = True
    nfkc: bool = False
    drop_invisible: bool = True

    def __call__(self, text: str) -> list[str]:
        if not self.keep_runs:
            return self._single_chars(text)
        if text.isascii():
            return self._ascii_tokens(text)
        return self._unicode_tokens(text)

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]:
        """The tokens of each text (``[self(t) for t in texts]``)."""
        with _no_cyclic_gc():
            return [self(t) for t in texts]

    def _single_chars(self, text: str) -> list[str]:
        if not text.isascii():
            if self.drop_invisible:
                text = _INVISIBLE.sub("", text)
            text = unicodedata.normalize(self.form, text)
        if self.lowercase:
            text = text.lower()
        return list("".join(text.split()))

    def _ascii_tokens(self, text: str) -> list[str]:
        if self.lowercase:
            text = text.lower()
        # Space out each symbol present (usually a handful), then split: faster than findall.
        symbols = text.encode("ascii").translate(None, _CHAR_ASCII_NOT_SYMBOL)
        for symbol in set(symbols.decode("ascii")):
            text = text.replace(symbol, f" {symbol} ")
        return text.split()

    def _unicode_tokens(self, text: str) -> list[str]:
        if self.drop_invisible:
            text = _INVISIBLE.sub("", text)
        text = unicodedata.normalize(self.form, text)
        if self.lowercase:
            text = text.lower()
        return _CHAR.findall(text)

    @property
    def form(self) -> str:
        """The Unicode normal form non-ASCII text is put in: ``"NFKC"`` or ``"NFC"``."""
        return "NFKC" if self.nfkc else "NFC"

    def to_config(self) -> dict:
        """``{"type": "char", "lowercase": bool, "keep_runs": bool}``; `build_tokenizer` inverts
        it (a config without ``keep_runs``, as bundles before it have, keeps runs)."""
        return {"type": "char", "lowercase": self.lowercase, "keep_runs": self.keep_runs,
                **({"nfkc": True} if self.nfkc else {}), **({"drop_invisible": True} if self.drop_invisible else {})}


_TOKENIZERS = {"word": WordTokenizer, "char": CharTokenizer}


def build_tokenizer(config: dict | str | Tokenizer, lowercase: bool = True) -> Tokenizer:
    """Build a tokenizer from a name (``"word"``, ``"char"``) or a `to_config()` dict, such as
    ``{"type": "char", "keep_runs": false}`` in a YAML config.

    ``lowercase`` applies to a name, or to a dict without a ``"lowercase"`` key.
    A tokenizer instance is returned unchanged.
    """
    if isinstance(config, Tokenizer):
        return config
    if isinstance(config, str):
        config = {"type": config}
    if not isinstance(config, dict):
        raise TypeError(f"tokenizer config must be a name or a dict, got {type(config).__name__}")
    if "type" not in config:
        raise ValueError(f"tokenizer config {config!r}: expected a 'type' ({', '.join(_TOKENIZERS)})")
    name = config["type"]
    if name not in _TOKENIZERS:
        raise ValueError(f"unknown tokenizer {name!r}; valid names: {', '.join(_TOKENIZERS)}")
    cls = _TOKENIZERS[name]
    options = [f.name for f in fields(cls)]
    unknown = set(config) - {"type", *options}
    if unknown:
        raise ValueError(
            f"tokenizer config {config!r}: unknown {sorted(unknown)}; a {name!r} tokenizer takes "
            f"'type' and optionally {', '.join(repr(o) for o in options)}"
        )
    kwargs = {"lowercase": lowercase, **{k: v for k, v in config.items() if k != "type"}}
    for key, value in kwargs.items():
        if not isinstance(value, bool):
            raise ValueError(f"tokenizer {key!r} must be true or false, got {value!r}")
    return cls(**kwargs)


def saved_tokenizer(config: dict) -> Tokenizer:
    """The tokenizer of a config saved in a checkpoint or bundle (`to_config`): as
    `build_tokenizer`, except that one saved before ``drop_invisible`` existed keeps invisible
    characters, as it did when its model was trained."""
    if isinstance(config, dict):
        config = {"drop_invisible": False, **config}
    return build_tokenizer(config)


@runtime_checkable
class _ToList(Protocol):
    """An array or a tensor of ids: what ``Vocab.decode`` reads with ``tolist()``."""

    def tolist(self) -> Any: ...


class Vocab:
    """Token <-> id table; id 0 is `PAD`, id 1 is `UNK`.

    Args:
        itos: the tokens in id order, starting with `PAD`, `UNK`; no duplicates.
    """

    pad_id = 0
    unk_id = 1

    def __init__(self, itos: list[str]):
        itos = list(itos)
        if itos[:2] != [PAD, UNK]:
            raise ValueError(f"vocabulary must start with {PAD!r}, {UNK!r}; got {itos[:2]!r}")
        stoi: dict[str, int] = {}
        for i, token in enumerate(itos):
            if not isinstance(token, str):
                raise ValueError(f"vocabulary entry {i} is {token!r}; expected a string")
            if token in stoi:
                raise ValueError(f"vocabulary token {token!r} appears twice, at ids {stoi[token]} and {i}")
            stoi[token] = i
        self.itos, self.stoi = itos, stoi

    @classmethod
    def build(
        cls,
        token_lists: Iterable[list[str]],
        min_freq: int = 1,
        max_size: int | None = None,
        extra_tokens: Iterable[str] = (),
    ) -> Vocab:
        """Count tokens and keep those seen at least ``min_freq`` times.

        Order: frequency descending, ties by first appearance. ``max_size`` includes the two
        specials. ``extra_tokens`` (e.g. a pretrained vector file's frequent words) are
        appended after the counted tokens, if new, while ``max_size`` allows.
        """
        if min_freq < 1:
            raise ValueError(f"min_freq must be >= 1, got {min_freq}")
        if max_size is not None and max_size < 2:
            raise ValueError(f"max_size must be >= 2 (it counts {PAD!r} and {UNK!r}), got {max_size}")
        counts: Counter[str] = Counter()
        for tokens in token_lists:
            counts.update(tokens)
        # Counter keeps first-appearance order and sorted() is stable, so ties keep it too.
        counted = (t for t, c in sorted(counts.items(), key=lambda kv: -kv[1]) if c >= min_freq)
        limit = float("inf") if max_size is None else max_size
        kept = dict.fromkeys([PAD, UNK])  # an ordered set
        for token in itertools.chain(counted, extra_tokens):
            if len(kept) >= limit:
                break
            kept.setdefault(token)
        return cls(list(kept))

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.itos == other.itos

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)})"

    def encode(self, tokens: list[str]) -> list[int]:
        """Token ids ``(L,)``; unknown tokens map to `unk_id`."""
        get, unk = self.stoi.get, self.unk_id
        return [get(token, unk) for token in tokens]

    def decode(self, ids: Union[Iterable[int], _ToList]) -> list[str]:
        """Tokens for ids ``(L,)`` (a list, numpy array or tensor)."""
        values: Iterable[Any] = ids.tolist() if isinstance(ids, _ToList) else ids
        size = len(self.itos)
        out = []
        for i in values:
            try:
                i = operator.index(i)
            except TypeError:
                raise ValueError(f"token id {i!r} is not an integer") from None
            if not 0 <= i < size:
                raise ValueError(f"token id {i} is outside the vocabulary [0, {size})")
            out.append(self.itos[i])
        return out

    def to_dict(self) -> dict:
        """``{"itos": [...]}``, JSON-able; `from_dict` inverts it."""
        return {"itos": list(self.itos)}

    @classmethod
    def from_dict(cls, d: dict) -> Vocab:
        """Rebuild from `to_dict` output."""
        if not isinstance(d, dict) or not isinstance(d.get("itos"), list):
            raise ValueError('vocabulary dict must look like {"itos": [token, ...]}')
        return cls(d["itos"])

    def save(self, path: str | os.PathLike) -> None:
        """Write JSON (UTF-8) atomically: a temp file in the same folder, then `os.replace`."""
        atomic_write(path, json.dumps(self.to_dict(), ensure_ascii=False).encode("utf-8"))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocab:
        """Read a file written by `save`."""
        path = os.fspath(path)
        try:
            with open(path, encoding="utf-8") as f:
                d = json.load(f)
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: vocabulary file not found") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{path}: not a vocabulary JSON file ({e}); re-create it with Vocab.save") from None
        try:
            return cls.from_dict(d)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None
