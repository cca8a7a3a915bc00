"""``textcnn predict --bundle`` throughput: texts/s on a file of N lines made from a CSV's
sentences (written to a temporary folder, never into the repository).

    python benchmarks/predict_throughput.py --bundle checkpoints/mr-multichannel-glove50 \\
        --source ../shared/benchmarks/mr/mr.csv --n 100000
"""
from __future__ import annotations

import argparse
import csv
import itertools
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bundle", required=True)
    p.add_argument("--source", required=True, help="CSV with a text column; its sentences are repeated to --n lines")
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--batch-size", type=int, default=256)
    args = p.parse_args(argv)
    with open(args.source, encoding="utf-8", newline="") as f:
        texts = [row["text"].replace("\n", " ") for row in csv.DictReader(f)]
    with tempfile.TemporaryDirectory(prefix="textcnn-throughput-") as tmp:
        src, out = Path(tmp) / "texts.txt", Path(tmp) / "preds.csv"
        src.write_text("\n".join(itertools.islice(itertools.cycle(texts), args.n)) + "\n", encoding="utf-8")
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "textcnn.cli", "predict", "--bundle", args.bundle, "--input", str(src),
                        "--output", str(out), "--batch-size", str(args.batch_size), "--no-progress"], check=True)
        seconds = time.perf_counter() - start
        rows = sum(1 for _ in open(out, encoding="utf-8")) - 1
    print(f"{rows} lines predicted in {seconds:.1f} s end to end (process start and model load included): "
          f"{rows / seconds:.0f} lines/s")


if __name__ == "__main__":
    main()
