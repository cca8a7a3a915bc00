"""THUCNews with jieba word tokens instead of characters: a try (see thucnews-options.md).

Writes OUT/thucnews/{train,test}.csv with the titles segmented by jieba (lowercased, words
joined by spaces, so `tokenizer: word` keeps them) and OUT/words_200d.txt, each word's vector
the mean of its characters' vectors from tencent_char_200d.txt (words with vectors for fewer
than half their characters get none). Needs `pip install jieba` (not a textcnn dependency).

    python results/tried/thucnews-jieba-words.py ../shared/benchmarks/thucnews /tmp/thucw
    ln -s "$PWD/../shared/benchmarks/thucnews/tencent_char_200d.txt" /tmp/thucw/thucnews/
    textcnn bench --data-dir /tmp/thucw --datasets thucnews --variants non-static --baselines \
        --seeds 1 --patience 5 --threads 1 --vectors-zh /tmp/thucw/words_200d.txt \
        --set data.tokenizer=word model.conv_padding=valid
"""
import csv
import logging
import sys
from pathlib import Path

import jieba
import numpy as np

jieba.setLogLevel(logging.WARNING)
src, out = Path(sys.argv[1]), Path(sys.argv[2])
(out / "thucnews").mkdir(parents=True, exist_ok=True)
counts: dict[str, int] = {}
for name in ("train", "test"):
    with open(src / f"{name}.csv", newline="", encoding="utf-8") as f, \
            open(out / "thucnews" / f"{name}.csv", "w", newline="", encoding="utf-8") as g:
        writer = csv.writer(g)
        writer.writerow(["text", "label"])
        for row in csv.DictReader(f):
            words = [w for w in jieba.lcut(row["text"].lower()) if w.strip()]
            writer.writerow([" ".join(words), row["label"]])
            for w in words:
                counts[w] = counts.get(w, 0) + 1

chars = {}
with open(src / "tencent_char_200d.txt", encoding="utf-8") as f:
    _, dim = map(int, f.readline().split())
    for line in f:
        parts = line.rstrip().split(" ")
        chars[parts[0]] = np.array(parts[1:], dtype=np.float32)
rows = []
for word in counts:
    vectors = [chars[c] for c in word if c in chars]
    if vectors and len(vectors) >= len(word) / 2:
        rows.append((word, np.mean(vectors, axis=0)))
with open(out / "words_200d.txt", "w", encoding="utf-8") as f:
    f.write(f"{len(rows)} {dim}\n")
    for word, v in rows:
        f.write(word + " " + " ".join(f"{x:.5f}" for x in v) + "\n")
print(f"{len(counts)} words ({sum(c == 1 for c in counts.values())} seen once), {len(rows)} with vectors")
