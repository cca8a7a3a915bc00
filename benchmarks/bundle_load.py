"""Time and peak memory of ``TextClassifier.load`` on a bundle with a large vocabulary.

    python benchmarks/bundle_load.py                      # 300,000 words x 300, multichannel (689 MB)
    python benchmarks/bundle_load.py --words 50000 --dim 50 --variant non-static

The bundle (untrained weights; words ``w0``, ``w1``...) is written once under ``--path`` and
reused when its settings match. Each load runs in a fresh subprocess, so ``ru_maxrss`` is that
load's peak; the peak of the same process after importing textcnn alone is printed beside it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MAKE = """
import json, sys
from textcnn.export import save_bundle
from textcnn.model import TextCNN
from textcnn.text import PAD, UNK, WordTokenizer
path, words, dim, variant = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
vocab = [PAD, UNK, *[f"w{i}" for i in range(words)]]
cfg = {"vocab_size": len(vocab), "num_classes": 4, "embed_dim": dim, "variant": variant,
       "kernel_sizes": [3, 4, 5], "num_filters": 100}
model = TextCNN(**cfg)
save_bundle(path, model, {"model": cfg, "vocab": vocab, "labels": list("abcd"),
                          "tokenizer": WordTokenizer().to_config(), "min_len": model.min_len})
"""

LOAD = """
import json, resource, sys, time
import torch
import textcnn.api
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
start = time.perf_counter()
clf = textcnn.api.TextClassifier.load(sys.argv[1], device="cpu")
seconds = time.perf_counter() - start
clf.predict(["w1 w2 w3 w4 w5"])
print(json.dumps({"seconds": seconds, "imports_mib": before,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--words", type=int, default=300_000)
    p.add_argument("--dim", type=int, default=300)
    p.add_argument("--variant", default="multichannel", choices=["rand", "static", "non-static", "multichannel"])
    p.add_argument("--path", default="/tmp/textcnn-bundle-load")
    p.add_argument("--repeat", type=int, default=2)
    args = p.parse_args(argv)
    path = Path(args.path)
    settings = {"words": args.words, "dim": args.dim, "variant": args.variant}
    stamp = path / "settings.json"
    if not stamp.is_file() or json.loads(stamp.read_text()) != settings:
        subprocess.run([sys.executable, "-c", MAKE, str(path), str(args.words), str(args.dim), args.variant],
                       check=True, cwd=ROOT)
        stamp.write_text(json.dumps(settings))
    size = (path / "model.safetensors").stat().st_size
    print(f"bundle {path}: {args.words:,} words x {args.dim}, {args.variant}; model.safetensors {size / 2**20:.0f} MiB")
    for _ in range(args.repeat):
        run = subprocess.run([sys.executable, "-c", LOAD, str(path)], check=True, cwd=ROOT, capture_output=True,
                             text=True)
        r = json.loads(run.stdout.strip().splitlines()[-1])
        print(f"load {r['seconds']:.2f} s; peak RSS {r['peak_mib']:.0f} MiB ({r['imports_mib']:.0f} MiB after the "
              f"imports; the load's {r['peak_mib'] - r['imports_mib']:.0f} MiB is "
              f"{(r['peak_mib'] - r['imports_mib']) / (size / 2**20):.1f}x the weights)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
