"""Tokenizer and vocabulary throughput: sentences/s for WordTokenizer, CharTokenizer, Vocab.

    python benchmarks/tokenize_speed.py --n 100000        # package installed, or PYTHONPATH=.
    python benchmarks/tokenize_speed.py --n 100000 --file /path/to/mr.csv
"""

from __future__ import annotations

import argparse
import gc
import random
import time

from textcnn.data import read_examples
from textcnn.text import CharTokenizer, Vocab, WordTokenizer

__all__ = ["make_sentences", "main"]

_WORDS = (
    "the a film movie is n't it's story characters plot , . ! ? ( ) good bad really "
    "director's performance we've they'd you'll funny boring beautiful acting script "
    "never ever one of best worst year and but or with without"
).split()


def make_sentences(n: int, words_per_sentence: int = 20, seed: int = 0) -> list[str]:
    """``n`` random English-like sentences of ``words_per_sentence`` words."""
    rng = random.Random(seed)
    return [" ".join(rng.choices(_WORDS, k=words_per_sentence)) for _ in range(n)]


def _report(name: str, fn, n: int, repeat: int) -> None:
    """Print sentences/s, wall and CPU seconds of the best of ``repeat`` calls of ``fn``.

    CPU time is the steadier figure on a shared machine.
    """
    wall = cpu = float("inf")
    for _ in range(repeat):
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - wall_start)
        cpu = min(cpu, time.process_time() - cpu_start)
    print(f"{name:<20} {n / wall:>10,.0f} sentences/s {wall:7.3f} s wall {cpu:7.3f} s CPU")


def main(argv: list[str] | None = None) -> None:
    """Print sentences/s and seconds for each stage."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="number of sentences")
    parser.add_argument("--file", help="a text,label CSV to read sentences from (repeated to --n)")
    parser.add_argument("--repeat", type=int, default=3, help="report the best of this many runs")
    parser.add_argument(
        "--disable-gc",
        action="store_true",
        help="time with the cyclic garbage collector off, to separate its share (it traverses "
        "every token list kept alive) from the tokenizers' own cost",
    )
    args = parser.parse_args(argv)

    if args.file:
        texts, _ = read_examples(args.file, with_labels=False)
        sentences = (texts * (args.n // len(texts) + 1))[: args.n]
        source = args.file
    else:
        sentences = make_sentences(args.n)
        source = "generated, 20 words each"
    words = sum(len(s.split()) for s in sentences) / len(sentences)
    print(
        f"{len(sentences)} sentences ({source}; {words:.1f} words on average), best of "
        f"{args.repeat}, gc {'off' if args.disable_gc else 'on'}"
    )

    if args.disable_gc:
        gc.disable()
    word, char = WordTokenizer(), CharTokenizer()
    [word(s) for s in sentences]  # untimed warm-up: grows the process's memory pools once
    _report("WordTokenizer", lambda: [word(s) for s in sentences], len(sentences), args.repeat)
    _report("  .tokenize_many", lambda: word.tokenize_many(sentences), len(sentences), args.repeat)
    _report("CharTokenizer", lambda: [char(s) for s in sentences], len(sentences), args.repeat)
    _report("  .tokenize_many", lambda: char.tokenize_many(sentences), len(sentences), args.repeat)
    tokens = word.tokenize_many(sentences)  # made after the tokenizers are timed: kept lists slow the GC

    def build_and_encode() -> list[list[int]]:
        vocab = Vocab.build(tokens)
        return [vocab.encode(t) for t in tokens]

    _report("Vocab.build+encode", build_and_encode, len(sentences), args.repeat)


if __name__ == "__main__":
    main()
