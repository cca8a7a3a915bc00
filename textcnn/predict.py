"""Predictions at scale: stream a file of texts (CSV / TSV / JSONL / one text a line) through a
bundle in chunks, with bounded memory, and write label plus probabilities per row (CSV or
JSONL). Rows that cannot be read are reported with their line numbers; the rest are predicted.
"""
from __future__ import annotations

import codecs
import csv
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Optional, Union

from .data import _EXTENSIONS, DataError, _resolve_format

__all__ = ["INPUT_FORMATS", "OUTPUT_FORMATS", "RowError", "iter_texts", "PredictSummary", "predict_file"]

INPUT_FORMATS = ("auto", "csv", "tsv", "jsonl", "text")
OUTPUT_FORMATS = ("auto", "csv", "jsonl")
_INPUT_EXTENSIONS = {**_EXTENSIONS, ".txt": "text"}


@dataclass(frozen=True)
class RowError:
    """A row that could not be read: its 1-based ``line`` and what is wrong."""

    line: int
    message: str


class _Lines:
    """Decoded lines of a binary file, one at a time; a line that is not UTF-8 becomes an empty
    line and a ``RowError``. Counts the bytes read (for the progress bar)."""

    def __init__(self, f: IO[bytes], errors: list[RowError]):
        self.f, self.errors, self.number, self.bytes = f, errors, 0, 0

    def __iter__(self) -> Iterator[str]:
        for raw in self.f:
            self.number += 1
            self.bytes += len(raw)
            if self.number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as e:
                self.errors.append(RowError(self.number, f"byte 0x{raw[e.start]:02x} is not valid UTF-8; re-save the file as UTF-8"))
                yield "\n"


def iter_texts(
    f: IO[bytes], path: str, format: str, text_column: str = "text", on_bytes: Optional[Callable[[int], None]] = None
) -> Iterator[Union[tuple[int, str], RowError]]:
    """``(line, text)`` for each readable row of the open binary file ``f``, a ``RowError`` for
    each unreadable one (bad UTF-8, bad JSON, wrong number of fields, missing column, empty
    text), in file order. ``format`` is ``csv``, ``tsv``, ``jsonl`` or ``text`` (one text a
    line); csv / tsv need a header with ``text_column``. Reads one line at a time."""
    pending: list[RowError] = []
    lines = _Lines(f, pending)
    seen = 0

    def flush() -> Iterator[RowError]:
        nonlocal seen
        if on_bytes is not None:
            on_bytes(lines.bytes - seen)
            seen = lines.bytes
        while pending:
            yield pending.pop(0)

    if format in ("csv", "tsv"):
        reader = csv.reader(lines, delimiter="," if format == "csv" else "\t",
                            quoting=csv.QUOTE_MINIMAL if format == "csv" else csv.QUOTE_NONE, strict=True)
        header: Optional[list[str]] = None
        while True:
            start = lines.number + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as e:
                yield from flush()
                yield RowError(start, f"malformed {format.upper()} record ({e}); close the quote or double it (\"\")")
                continue
            yield from flush()
            if not any(field.strip() for field in row):
                continue
            if header is None:
                header = [name.strip() for name in row]
                if text_column not in header:
                    raise DataError(f"no column {text_column!r} in the header; columns found: {header}. "
                                    "Rename the column or pass --text-column <name>", path, start)
                index = header.index(text_column)
                continue
            if len(row) != len(header):
                yield RowError(start, f"expected {len(header)} fields like the header, found {len(row)}")
                continue
            text = row[index].strip()
            yield (start, text) if text else RowError(start, "empty text")
    else:
        for line in lines:
            yield from flush()
            if not line.strip():
                continue
            if format == "text":
                yield lines.number, line.strip()
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                yield RowError(lines.number, f"invalid JSON ({e.msg} at column {e.colno})")
                continue
            text = obj.get(text_column) if isinstance(obj, dict) else None
            if not isinstance(text, str):
                yield RowError(lines.number, f"expected an object with a string {text_column!r}; found {line.strip()[:60]!r}")
            elif not text.strip():
                yield RowError(lines.number, "empty text")
            else:
                yield lines.number, text.strip()
    yield from flush()


@dataclass
class PredictSummary:
    """What ``predict_file`` did: rows predicted and the rows it could not read."""

    predicted: int = 0
    errors: list[RowError] = field(default_factory=list)


class _Writer:
    def __init__(self, f: IO[str], format: str, labels: list[str]):
        self.f, self.format, self.labels = f, format, labels
        if format == "csv":
            self.csv = csv.writer(f)
            self.csv.writerow(["line", "text", "label", *(f"p_{name}" for name in labels)])

    def write(self, rows: Iterable[tuple[int, str]], probs) -> None:
        for (line, text), p in zip(rows, probs.tolist()):
            label = self.labels[max(range(len(p)), key=p.__getitem__)]
            if self.format == "csv":
                self.csv.writerow([line, text, label, *(f"{x:.6f}" for x in p)])
            else:
                record = {"line": line, "text": text, "label": label,
                          "probabilities": {n: round(x, 6) for n, x in zip(self.labels, p)}}
                self.f.write(json.dumps(record, ensure_ascii=False) + "\n")


def predict_file(
    classifier,
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    format: str = "auto",
    output_format: str = "auto",
    text_column: str = "text",
    batch_size: int = 256,
    chunk_size: int = 4096,
    progress: bool = True,
    report: Optional[Callable[[str], None]] = None,
) -> PredictSummary:
    """Predict every row of ``input_path`` with ``classifier`` (anything with ``labels`` and
    ``predict_proba(texts, batch_size)``, e.g. ``TextClassifier`` or ``OnnxClassifier``) and
    write ``line, text, label, p_<label>...`` rows to ``output_path``.

    At most ``chunk_size`` texts are held at once. Each unreadable row is passed to ``report``
    (default: printed on stderr) as ``FILE, line N: message``. The output is written to a
    temporary file and renamed when complete.
    """
    input_path, output_path = os.fspath(input_path), os.fspath(output_path)
    if not os.path.isfile(input_path):
        raise DataError("file not found; check the path" if not os.path.exists(input_path) else "is a folder; expected a file", input_path)
    fmt = _resolve_format(input_path, format, INPUT_FORMATS, _INPUT_EXTENSIONS, "input", "pass --format")
    out_fmt = _resolve_format(output_path, output_format, OUTPUT_FORMATS,
                              {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}, "output", "pass --output-format")
    report = report or (lambda message: print(message, file=sys.stderr))
    summary = PredictSummary()
    tmp = f"{output_path}.part"
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=os.path.getsize(input_path), unit="B", unit_scale=True, desc="predict", file=sys.stderr)
    try:
        with open(input_path, "rb") as f, open(tmp, "w", newline="", encoding="utf-8") as out:
            writer = _Writer(out, out_fmt, list(classifier.labels))
            chunk: list[tuple[int, str]] = []

            def flush_chunk() -> None:
                if chunk:
                    writer.write(chunk, classifier.predict_proba([t for _, t in chunk], batch_size=batch_size))
                    summary.predicted += len(chunk)
                    chunk.clear()

            for item in iter_texts(f, input_path, fmt, text_column, on_bytes=bar.update if bar else None):
                if isinstance(item, RowError):
                    summary.errors.append(item)
                    report(str(DataError(item.message, input_path, item.line)))
                    continue
                chunk.append(item)
                if len(chunk) >= chunk_size:
                    flush_chunk()
            flush_chunk()
        os.replace(tmp, output_path)
    finally:
        if bar is not None:
            bar.close()
        if os.path.exists(tmp):
            os.remove(tmp)
    return summary
