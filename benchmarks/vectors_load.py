"""Time and peak memory of ``load_vectors`` on a GoogleNews-sized word2vec binary file.

    python benchmarks/vectors_load.py                     # 3,000,000 x 300 (3.6 GB), 20,000 words
    python benchmarks/vectors_load.py -n 100000 --path /tmp/small.bin

The file is generated once (random vectors, words ``w0000001``...) and reused when its size
matches. Each measurement runs in a fresh subprocess, so ``ru_maxrss`` is that load's peak.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["write_word2vec_binary", "make_vocabulary", "main"]

ROOT = Path(__file__).resolve().parents[1]


def _record_dtype(n: int, dim: int) -> np.dtype:
    """One word2vec binary record: ``b"w0000001 "`` then ``dim`` little-endian float32."""
    return np.dtype([("word", f"S{len(_word(n)) + 1}"), ("vector", "<f4", (dim,))])


def _word(i: int) -> str:
    return f"w{i:07d}"


def write_word2vec_binary(path: Path, n: int, dim: int, chunk: int = 50_000, seed: int = 0) -> bool:
    """Write ``n`` random ``dim``-d vectors as word2vec binary in chunks; return False if reused."""
    header = f"{n} {dim}\n".encode()
    dtype = _record_dtype(n, dim)
    size = len(header) + n * dtype.itemsize
    if path.is_file() and path.stat().st_size == size:
        return False
    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(path.suffix + ".part")
    with open(tmp, "wb") as f:
        f.write(header)
        for start in range(1, n + 1, chunk):
            stop = min(start + chunk, n + 1)
            records = np.empty(stop - start, dtype=dtype)
            records["word"] = [f"{_word(i)} ".encode() for i in range(start, stop)]
            records["vector"] = rng.standard_normal((stop - start, dim), dtype=np.float32) * np.float32(0.14)
            f.write(records.tobytes())
    tmp.replace(path)
    return True


def make_vocabulary(n: int, size: int, missing: float = 0.05, seed: int = 0) -> list[str]:
    """``size`` words: ``1 - missing`` of them drawn from the file's ``n`` words, the rest absent."""
    rng = np.random.default_rng(seed)
    n_missing = int(size * missing)
    present = rng.choice(np.arange(1, n + 1), size=min(size - n_missing, n), replace=False)
    return [_word(int(i)) for i in present] + [f"absent{i:06d}" for i in range(n_missing)]


def _child(vocab_file: str, path: str, fmt: str) -> None:
    """Measure one load in this (fresh) process and print a JSON line."""
    import resource

    sys.path.insert(0, str(ROOT))
    from textcnn.embeddings import load_vectors

    words = Path(vocab_file).read_text().split("\n")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    kv = load_vectors(path, words, format=fmt)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "rss_before_kb": before, "rss_peak_kb": after,
                      "found": len(kv), "dim": kv.vector_size}))


def main(argv: list[str] | None = None) -> None:
    """Generate the file if needed, then time ``--repeat`` loads, each in a fresh process."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--num-vectors", type=int, default=3_000_000)
    parser.add_argument("-d", "--dim", type=int, default=300)
    parser.add_argument("--vocab", type=int, default=20_000, help="words asked for (95%% present in the file)")
    parser.add_argument("--path", type=Path, default=Path("/tmp/textcnn-bench/w2v-random.bin"))
    parser.add_argument("--format", default="auto", help="format passed to load_vectors")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--cold", action="store_true", help="evict the file from the page cache before each run")
    parser.add_argument("--child", nargs=3, metavar=("VOCAB_FILE", "PATH", "FORMAT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(*args.child)

    args.path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    written = write_word2vec_binary(args.path, args.num_vectors, args.dim)
    size_gb = args.path.stat().st_size / 1e9
    print(f"file: {args.path} ({args.num_vectors:,} x {args.dim}, {size_gb:.2f} GB) "
          + (f"written in {time.perf_counter() - start:.1f} s" if written else "reused"))

    words = make_vocabulary(args.num_vectors, args.vocab)
    vocab_file = args.path.with_suffix(".vocab.txt")
    vocab_file.write_text("\n".join(words))
    for run in range(1, args.repeat + 1):
        if args.cold:  # drops only this file's cached pages; needs no privileges
            fd = os.open(args.path, os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(vocab_file), str(args.path), args.format],
            check=True, capture_output=True, text=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        # ru_maxrss is in KiB on Linux
        print(
            f"run {run}{' (cold cache)' if args.cold else ''}: load_vectors {r['seconds']:.2f} s "
            f"({size_gb / r['seconds']:.2f} GB/s), "
            f"found {r['found']:,}/{len(words):,} words (dim {r['dim']}); "
            f"peak RSS {r['rss_peak_kb'] / 1024:.0f} MiB (before load {r['rss_before_kb'] / 1024:.0f} MiB, "
            f"+{(r['rss_peak_kb'] - r['rss_before_kb']) / 1024:.0f} MiB; result itself "
            f"{r['found'] * r['dim'] * 4 / 2**20:.0f} MiB)"
        )


if __name__ == "__main__":
    main()
