"""Predictions at scale: stream a file of texts (CSV / TSV / JSONL / one text a line) through a
bundle in chunks, with bounded memory, and write label plus probabilities per row (CSV or
JSONL). Every input line is accounted for: predicted, the header, or reported with its line
number as a ``RowError`` (unreadable, blank, or part of a broken record).
"""
from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Optional, Union

from .bundle import positive_int
from .fileio import _naming_error, atomic_write
from .data import (_EXTENSIONS, DataError, _header_hint, _invalid_json, _json_lines_hint, _resolve_format,
                   not_a_text_file)

__all__ = ["INPUT_FORMATS", "OUTPUT_FORMATS", "RowError", "iter_texts", "PredictSummary", "predict_file"]

INPUT_FORMATS = ("auto", "csv", "tsv", "jsonl", "text")
OUTPUT_FORMATS = ("auto", "csv", "jsonl")
_INPUT_EXTENSIONS = {**_EXTENSIONS, ".txt": "text"}
_BLANK = "blank line; nothing to predict"
_LINE_END = re.compile(rb"\r\n|\r|\n")
_BLOCK = 1 << 16
# A text may be long (nothing caps it), but a field of this many characters is most likely a quote
# that is never closed, read on through the rest of the file; the limit bounds the memory it takes.
_FIELD_LIMIT = 1 << 26


@dataclass(frozen=True)
class RowError:
    """An input line that was not predicted: its 1-based ``line`` and why."""

    line: int
    message: str


class _Lines:
    """Decoded lines of a binary file, one at a time. A line that is not UTF-8 is decoded with
    replacement characters and its message waits in ``bad`` until the record holding it is
    closed (and refused). Counts the lines and bytes read (bytes go to ``on_bytes``, for the
    progress bar, once per record)."""

    def __init__(self, f: IO[bytes], on_bytes: Optional[Callable[[int], None]] = None):
        self.f, self.on_bytes, self.number, self.bytes, self.seen = f, on_bytes, 0, 0, 0
        self.bad: dict[int, str] = {}
        self.first = ""  # the first line, when it is UTF-8

    def _raw_lines(self) -> Iterator[bytes]:
        """The file's lines with their line breaks, ``\\n``, ``\\r\\n`` or a lone ``\\r`` (old Mac files),
        as training reads them; from blocks of the file (or the pieces ``f`` yields), so memory is
        bounded by the longest line."""
        blocks = iter(lambda: self.f.read(_BLOCK), b"") if hasattr(self.f, "read") else iter(self.f)
        pending = b""
        for block in blocks:
            data, start = pending + block, 0
            for m in _LINE_END.finditer(data):
                if m.end() == len(data) and data.endswith(b"\r"):
                    break  # its \n may start the next block
                yield data[start:m.end()]
                start = m.end()
            pending = data[start:]
        if pending:
            yield pending

    def __iter__(self) -> Iterator[str]:
        for raw in self._raw_lines():
            if not raw:
                continue
            self.number += 1
            self.bytes += len(raw)
            if self.number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            try:
                text = raw.decode("utf-8")
                if self.number == 1:
                    self.first = text
                yield text
            except UnicodeDecodeError as e:
                self.bad[self.number] = f"byte 0x{raw[e.start]:02x} is not valid UTF-8; re-save the file as UTF-8"
                yield raw.decode("utf-8", errors="replace")  # keeps its quotes and line end for the CSV reader

    def close_record(self, start: int, problem: Optional[str] = None, hint: str = "") -> list[RowError]:
        """One ``RowError`` per line of the record of lines ``start``..``self.number`` when it has
        a ``problem`` (then ``; hint``) or a line that is not UTF-8 (that line gets its own
        message); else ``[]``."""
        if self.on_bytes is not None:
            self.on_bytes(self.bytes - self.seen)
            self.seen = self.bytes
        bad, self.bad = self.bad, {}
        if problem is None and not bad:
            return []
        end = self.number
        if problem is None:
            problem = f"not predicted: line {min(bad)} of this record (lines {start}-{end}) is not UTF-8"
        elif end > start:
            problem += f" (lines {start}-{end} were read as this one record, so none of them was predicted)"
        problem += f"; {hint}" if hint else ""
        errors, first = [], None
        for n in range(start, end + 1):
            if n in bad:
                errors.append(RowError(n, bad[n]))
            elif first is None:
                first = n
                errors.append(RowError(n, problem))
            else:
                errors.append(RowError(n, f"not predicted: part of the record of lines {start}-{end} (see line {first})"))
        return errors


def _csv_problem(error: csv.Error, format: str) -> tuple[str, str]:
    """What a ``csv.Error`` means, in the user's words, and what to do."""
    what, name = str(error), format.upper()
    if format == "tsv":  # no quoting in TSV: only an over-long field fails
        return f"malformed TSV record ({what})", "split or shorten the text"
    if what == "unexpected end of data":
        what = "a quoted field is never closed"
    elif what.startswith("field larger than field limit"):
        what = f"a field is longer than {csv.field_size_limit()} characters, most likely a quote that is never closed"
    else:
        what = f"({what})"
    return f"malformed {name} record: {what}", 'close the quote or double it ("")'


def iter_texts(
    f: IO[bytes], path: str, format: str, text_column: str = "text", on_bytes: Optional[Callable[[int], None]] = None,
    keep: Sequence[str] = (),
) -> Iterator[Union[tuple, RowError]]:
    """``(line, text)`` for each readable row of the open binary file ``f`` and a ``RowError``
    for every other line but the header, in file order: bad UTF-8, bad JSON, wrong number of
    fields, missing column, empty text, blank line, and each line of a broken multi-line record
    (an unclosed quote). ``format`` is ``csv``, ``tsv``, ``jsonl`` or ``text`` (one text a
    line); csv / tsv need a header with ``text_column``. Reads one line at a time.

    With ``keep`` (column or key names of a csv / tsv / jsonl file), each row is
    ``(line, text, values)``, ``values`` the row's values of those columns (of a JSON line, the
    JSON values, None for a key it lacks)."""
    if keep and format not in ("csv", "tsv", "jsonl"):
        raise DataError(f"--keep-columns needs a CSV, TSV or JSONL input with columns; this input is read as "
                        f"{format} (one text a line)", path)
    if text_column in keep:
        raise DataError(f"--keep-columns {text_column!r}: the text column is written as 'text' already", path)
    lines = _Lines(f, on_bytes)
    if format in ("csv", "tsv"):
        csv.field_size_limit(max(csv.field_size_limit(), _FIELD_LIMIT))
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
                if header is None:  # no header, no column to read: nothing after it can be predicted
                    what, _ = _csv_problem(e, format)
                    hint = _json_lines_hint("--format") if start == 1 and lines.first.lstrip().startswith("{") else ""
                    raise DataError(f"the header is not read: {what}.{hint}", path, start) from None
                yield from lines.close_record(start, *_csv_problem(e, format))
                continue
            problem = None
            if lines.bad:
                if header is None and any(field.strip() for field in row):  # else the next row passes for the header
                    line = min(lines.bad)
                    raise DataError(f"the header is not UTF-8: {lines.bad[line]}", path, line)
            elif not any(field.strip() for field in row) and (header is None or (len(row) < 2 and len(row) != len(header))):
                problem = _BLANK
            elif header is None:
                header = [name.strip() for name in row]
                if text_column not in header:
                    hint = _header_hint(header, format, "--format")
                    raise DataError(f"no column {text_column!r} in the header; columns found: {header}. "
                                    f"Rename the column or pass --text-column <name>{'.' if hint else ''}{hint}",
                                    path, start)
                if header.count(text_column) > 1:
                    raise DataError(f"the header names the column {text_column!r} more than once, so which to read "
                                    f"is not clear; columns found: {header}. Give each column its own name",
                                    path, start)
                index = header.index(text_column)
                missing = [name for name in keep if name not in header]
                if missing:
                    raise DataError(f"--keep-columns: no column {missing[0]!r} in the header; columns found: "
                                    f"{header}", path, start)
                kept = [header.index(name) for name in keep]
                lines.close_record(start)
                continue
            elif len(row) != len(header):
                problem = f"expected {len(header)} fields like the header, found {len(row)}"
                if format == "csv" and any(field[:2] == ' "' for field in row):
                    problem += "; a space after a comma keeps the quote after it from opening a quoted field"
            elif not row[index].strip():
                problem = "empty text"
            errors = lines.close_record(start, problem)
            if errors:
                yield from errors
            elif keep:
                yield start, row[index].strip(), tuple(row[i] for i in kept)
            else:
                yield start, row[index].strip()
    else:
        for line in lines:
            text, problem, obj = line.strip(), None, None
            if lines.bad:
                pass  # the line that is not UTF-8 says why
            elif not text:
                problem = _BLANK
            elif format == "jsonl":
                text, problem, obj = _json_text(line, text_column)
            errors = lines.close_record(lines.number, problem)
            if errors:
                yield from errors
            elif keep:
                yield lines.number, text, tuple(obj.get(name) for name in keep)
            else:
                yield lines.number, text


def _csv_value(value):
    """A kept value as a CSV field: a string as it is, None (a JSON line without the key) as an
    empty field, any other JSON value as its JSON."""
    return "" if value is None else value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _json_text(line: str, text_column: str) -> tuple[str, Optional[str], Optional[dict]]:
    """``(text, None, object)`` for a JSONL line with a non-empty string ``text_column``, else
    ``("", problem, None)``."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        return "", _invalid_json(e), None
    except RecursionError:
        return "", "invalid JSON (nested too deeply)", None
    text = obj.get(text_column) if isinstance(obj, dict) else None
    if not isinstance(text, str):
        return "", f"expected an object with a string {text_column!r}; found {line.strip()[:60]!r}", None
    return (text.strip(), None, obj) if text.strip() else ("", "empty text", None)


NOT_UTF8_STOP = 20  # this many lines not UTF-8 before any text: the file is in another encoding, stop


def _encoding_hint(input_path: str, in_stream: bool) -> str:
    """What to do about input that is not UTF-8: for a file, the encoding its bytes read as and
    the iconv command (``iconv_hint``); standard input cannot be read again."""
    if in_stream:
        return "re-encode the input as UTF-8 (e.g. `iconv -f gb18030 -t utf-8` for Chinese GBK)"
    from .data import iconv_hint

    with open(input_path, "rb") as f:
        return iconv_hint(f)


@dataclass
class PredictSummary:
    """What ``predict_file`` did: rows predicted, one ``RowError`` per input line that was not
    predicted (besides the header), in file order, the lines of the predicted texts with no
    token in the model's vocabulary (their label is the model's answer for an empty text), and the
    first lines of the predicted texts that span several lines (a quoted field with line breaks:
    the lines after the first are part of the text)."""

    predicted: int = 0
    errors: list[RowError] = field(default_factory=list)
    unknown_lines: list[int] = field(default_factory=list)
    multiline_lines: list[int] = field(default_factory=list)


class _Writer:
    def __init__(self, f: IO[str], format: str, labels: list[str], keep: Sequence[str] = ()):
        self.f, self.format, self.labels = f, format, labels
        ours = {"line", "text", "label", "probabilities", *(f"p_{name}" for name in labels)}
        # the kept input columns, after the line number; one named as an output column gets "input_"
        self.kept = [f"input_{name}" if name in ours else name for name in keep]
        self.csv = csv.writer(f) if format == "csv" else None
        self.started = False  # the CSV header comes with the first rows: none on a stream for no rows

    def write(self, rows: Iterable[tuple], probs) -> None:
        if self.csv and not self.started:
            self.csv.writerow(["line", *self.kept, "text", "label", *(f"p_{name}" for name in self.labels)])
        self.started = True
        for (line, text, values), p in zip(rows, probs.tolist()):
            label = self.labels[max(range(len(p)), key=p.__getitem__)]
            if self.format == "csv":
                self.csv.writerow([line, *map(_csv_value, values), text, label, *(f"{x:.6f}" for x in p)])
            else:
                record = {"line": line, **dict(zip(self.kept, values)), "text": text, "label": label,
                          "probabilities": {n: round(x, 6) for n, x in zip(self.labels, p)}}
                self.f.write(json.dumps(record, ensure_ascii=False) + "\n")


STDIO = "-"  # --input - reads standard input, --output - writes standard output


_STDIO_NAMES = ("/dev/stdin", "/dev/stdout", "/dev/fd/0", "/dev/fd/1")  # read or written as ``-``


def is_stream(path: str) -> bool:
    """``-``, a path under ``/dev`` (``/dev/stdout``, ``/dev/null``), or an existing path that is
    neither a regular file nor a folder (a named pipe). Read or written as it comes: a stream
    cannot be reread, nor replaced by a finished file."""
    return (path == STDIO or path.startswith("/dev/")
            or (os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path)))


def _check_output(input_path: str, output_path: str) -> None:
    """DataError, before any work, for an output that is a folder or would overwrite the input
    (the same file under another name, or a link)."""
    if os.path.isdir(output_path) or output_path.endswith((os.sep, os.altsep or os.sep)):
        raise DataError("is a folder; expected the path of the predictions file, e.g. "
                        f"{os.path.join(output_path, 'predictions.csv')}", output_path)
    if is_stream(output_path) or input_path == STDIO:
        return
    if os.path.exists(output_path) and os.path.samefile(output_path, input_path):
        what = "the input file" if output_path == input_path else f"the input file {input_path}"
        raise DataError(f"is {what}; writing the predictions there would destroy the texts. Choose another --output",
                        output_path)


def _make_parents(output_path: str) -> list[str]:
    """Create the missing folders above ``output_path``; returns them, outermost first."""
    missing, parent = [], os.path.dirname(os.path.abspath(output_path))
    while not os.path.exists(parent):
        missing.append(parent)
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise DataError(f"{parent} is a file, not a folder; choose another output path", output_path)
    missing.reverse()
    try:
        for folder in missing:
            os.mkdir(folder)
    except OSError as e:
        raise DataError(f"cannot create the folder {folder} ({e.strerror}); choose another output path", output_path) from None
    return missing


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
    max_chars: Optional[int] = None,
    keep_columns: Sequence[str] = (),
) -> PredictSummary:
    """Predict every row of ``input_path`` with ``classifier`` (a ``BundleText``: a
    ``TextClassifier`` or an ``OnnxClassifier``) and write ``line, text, label, p_<label>...``
    rows to ``output_path``; with ``keep_columns`` (columns or keys of a CSV / TSV / JSONL input,
    e.g. an id or the true label) their values too, after ``line`` (a name that is one of those
    of the output is written as ``input_<name>``).

    At most ``chunk_size`` texts are held at once. With ``max_chars``, a longer text is not
    predicted but reported, as an unreadable line is (for a service that caps its input). Each line that is not predicted is passed to
    ``report`` (default: printed on stderr) as ``FILE, line N: message``. The output is written
    to a hidden temporary file beside it, of this call alone, and renamed when complete, keeping
    the permissions of the file it replaces (over a link's target, so the link stays); missing
    folders above it are created. An error of the writing names the output (``standard output``
    for ``-``), not the temporary. ``-`` reads standard input or writes standard output;
    a stream (``-``, a named pipe, ``/dev/stdout``) is read or written as it comes, and one
    without an extension is read as ``text`` and written as ``csv`` under ``"auto"``.
    Raises ``DataError`` before any work for an output that is a folder or the input itself,
    and at the end, leaving no output file, when there was nothing to predict.
    """
    batch_size = positive_int("batch_size", batch_size)
    chunk_size = positive_int("chunk_size", chunk_size)
    input_path, output_path = os.fspath(input_path), os.fspath(output_path)
    input_path = STDIO if input_path in _STDIO_NAMES else input_path
    output_path = STDIO if output_path in _STDIO_NAMES else output_path
    in_stream, out_stream = is_stream(input_path), is_stream(output_path)
    name = "standard input" if input_path == STDIO else input_path  # in messages
    if not in_stream and not os.path.isfile(input_path):
        raise DataError("file not found; check the path" if not os.path.exists(input_path) else "is a folder; expected a file", input_path)
    _check_output(input_path, output_path)
    input_exts = _INPUT_EXTENSIONS if not in_stream else {**_INPUT_EXTENSIONS, "": "text"}
    fmt = _resolve_format(input_path, format, INPUT_FORMATS, input_exts, "input", "pass --format")
    if keep_columns and fmt not in ("csv", "tsv", "jsonl"):  # before any work (iter_texts says so too)
        raise DataError(f"--keep-columns needs a CSV, TSV or JSONL input with columns; this input is read as "
                        f"{fmt} (one text a line)", name)
    out_exts = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", **({"": "csv"} if out_stream else {})}
    out_fmt = _resolve_format(output_path, output_format, OUTPUT_FORMATS, out_exts, "output", "pass --output-format")
    report = report or (lambda message: print(message, file=sys.stderr))
    summary = PredictSummary()
    if not out_stream:  # a link's target is replaced, not the link
        output_path = os.path.realpath(output_path) if os.path.islink(output_path) else output_path
    created = [] if out_stream else _make_parents(output_path)
    source = sys.stdin.buffer if input_path == STDIO else open(input_path, "rb")
    try:
        problem = not_a_text_file(source.peek(1024)[:1024])
        if problem:
            raise DataError(problem, name, 1)
    except BaseException:
        if source is not sys.stdin.buffer:
            source.close()
        raise
    bar, done = None, False
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=None if in_stream else os.path.getsize(input_path), unit="B", unit_scale=True,
                   desc="predict", file=sys.stderr)

    def predict_into(out: IO[str]) -> None:
        writer = _Writer(out, out_fmt, list(classifier.labels), keep_columns)
        chunk: list[tuple[int, str, tuple]] = []  # line, text, kept values

        def flush_chunk() -> None:
            if chunk:
                ids = classifier.encode([t for _, t, _ in chunk])
                writer.write(chunk, classifier.proba_of_ids(ids, batch_size=batch_size))
                summary.unknown_lines += [line for (line, _, _), x in zip(chunk, ids)
                                          if all(i == classifier.vocab.unk_id for i in x)]
                if fmt in ("csv", "tsv"):  # (a JSON text's "\n" is an escape on its one line)
                    summary.multiline_lines += [line for line, text, _ in chunk if "\n" in text or "\r" in text]
                summary.predicted += len(chunk)
                chunk.clear()

        for item in iter_texts(_blocks(source, name), name, fmt, text_column,
                               on_bytes=bar.update if bar is not None else None, keep=keep_columns):
            if max_chars is not None and not isinstance(item, RowError) and len(item[1]) > max_chars:
                item = RowError(item[0], f"a text of {len(item[1]):,} characters; the limit is {max_chars:,}")
            if isinstance(item, RowError):
                summary.errors.append(item)
                report(str(DataError(item.message, name, item.line)))
                if not summary.predicted and not chunk and len(summary.errors) >= NOT_UTF8_STOP and all(
                        "UTF-8" in e.message for e in summary.errors):  # a whole file in another encoding
                    raise DataError(f"its first {len(summary.errors)} data lines are not UTF-8, so the file is "
                                    f"most likely in another encoding: {_encoding_hint(input_path, in_stream)}",
                                    name)
                continue
            chunk.append(item if keep_columns else (*item, ()))
            if len(chunk) >= chunk_size:
                flush_chunk()
        flush_chunk()
        if not summary.predicted:  # raised here, so that no output is left
            n = len(summary.errors)
            if n > 1:
                why = f"all {n} data lines are blank or unreadable"
            elif n == 1:
                why = "its only data line is blank or unreadable"
            else:  # no line was reported: nothing, or only the header, was read
                why = ("the input is empty or has a header only" if in_stream else
                       "the file has a header only" if os.path.getsize(input_path) else "the file is empty")
            if summary.errors and sum("UTF-8" in e.message for e in summary.errors) * 2 > len(summary.errors):
                why += f"; {_encoding_hint(input_path, in_stream)}"
            raise DataError(f"no texts to predict ({why})", name)

    try:
        # standard input stays open; a file the with closes
        with contextlib.nullcontext(source) if source is sys.stdin.buffer else source:
            _write_output(output_path, predict_into)
        done = True
    finally:
        if bar is not None:
            bar.close()
        if not done:
            for folder in reversed(created):  # only the folders this call made, and only while empty
                try:
                    os.rmdir(folder)
                except OSError:
                    break
    return summary


def _blocks(f: IO[bytes], name: str) -> Iterator[bytes]:
    """The blocks of the open binary file ``f``. A read that fails is a ``DataError`` naming the
    input ``name``: an OSError without a file name would be taken for one of the output."""
    while True:
        try:
            block = f.read(_BLOCK)
        except OSError as e:
            raise DataError(f"cannot be read: {e.strerror or e}", name) from None
        if not block:
            return
        yield block


def _write_output(path: str, write: Callable[[IO[str]], None]) -> None:
    """Call ``write`` with the text file (UTF-8) for ``path``. A file is written through a hidden
    temporary of this call alone, renamed onto ``path`` (with its permissions) when ``write``
    returns and removed if it raises (``atomic_write``); a stream (``-``, ``/dev/...``, a named
    pipe) is written as the rows come. An OSError of the writing names ``path``
    (``standard output`` for ``-``): a full disk says so without a file name."""
    if not is_stream(path):
        def write_binary(f: IO[bytes]) -> None:
            text = io.TextIOWrapper(f, encoding="utf-8", newline="")
            write(text)
            text.flush()
            text.detach()  # atomic_write closes the file

        atomic_write(path, write_binary)
        return
    try:
        with _output(path) as out:
            write(out)
    except OSError as e:
        if e.filename is not None:  # a file of its own (e.g. the input, read again for a hint)
            raise
        raise _naming_error(e, "standard output" if path == STDIO else path) from None


class _output:
    """``with``: the stream ``path`` as a text file (``-``: standard output, flushed, not closed)."""

    def __init__(self, path: str):
        self.path = path

    def __enter__(self) -> IO[str]:
        if self.path == STDIO:
            sys.stdout.flush()
            self.f = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="", write_through=True)
        else:
            self.f = open(self.path, "w", newline="", encoding="utf-8")
        return self.f

    def __exit__(self, *exc):
        if self.path == STDIO:
            self.f.flush()
            self.f.detach()  # standard output stays open
        else:
            self.f.close()
