"""Load test of the Gradio demo on this machine: N requests at concurrency C, then the latency
percentiles, the throughput and the error count. Not part of the test suite.

    python app.py &                                   # the demo, on http://127.0.0.1:7860
    python benchmarks/load_test.py                    # 500 requests, 16 at a time
    python benchmarks/load_test.py --requests 2000 --concurrency 32 --api-name /classify

It also sends one oversized text and reports whether the demo refuses it (its input cap).
Exit status 1 when any request failed. Only loopback addresses are accepted.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

__all__ = ["main"]

TEXTS = [
    "A gorgeous, witty, seductive movie.",
    "The plot is thin and the acting is wooden; I was bored from start to finish.",
    "Not the best film of the year, but a charming and sincere one.",
    "An overlong, self-indulgent mess.",
    "funny , moving and beautifully shot , it is the rare sequel that beats the original .",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``, nearest rank."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default="http://127.0.0.1:7860", help="the demo (loopback only)")
    p.add_argument("--requests", type=int, default=500, help="requests in all")
    p.add_argument("--concurrency", type=int, default=16, help="requests in flight at once")
    p.add_argument("--api-name", default="/classify", help="the endpoint's api_name")
    p.add_argument("--text-param", default="text", help="name of the endpoint's text input (others keep defaults)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds before one request counts as failed")
    p.add_argument("--oversized", type=int, default=100_000, help="characters of the text sent to check the "
                   "input cap (0: skip)")
    args = p.parse_args(argv)
    host = urlparse(args.url).hostname
    if host not in LOOPBACK:
        p.error(f"--url must point at this machine ({', '.join(sorted(LOOPBACK))}), got {host!r}")
    if args.requests < 1 or args.concurrency < 1:
        p.error("--requests and --concurrency must be at least 1")

    from gradio_client import Client

    local = threading.local()

    def client() -> Client:  # one client per worker thread
        if not hasattr(local, "client"):
            local.client = Client(args.url, verbose=False)
        return local.client

    def call(text: str):
        job = client().submit(**{args.text_param: text}, api_name=args.api_name)
        return job.result(timeout=args.timeout)

    def one(i: int) -> tuple[float, str | None]:
        start = time.perf_counter()
        try:
            call(TEXTS[i % len(TEXTS)])
            return time.perf_counter() - start, None
        except Exception as e:  # noqa: BLE001 - every failure counts, whatever its type
            return time.perf_counter() - start, f"{type(e).__name__}: {e}"

    with ThreadPoolExecutor(args.concurrency) as pool:
        list(pool.map(lambda _: client(), range(args.concurrency)))  # connect before timing
        call(TEXTS[0])  # warm-up
        start = time.perf_counter()
        results = list(pool.map(one, range(args.requests)))
        elapsed = time.perf_counter() - start

    latencies = [t * 1000 for t, err in results if err is None]
    errors = [err for _, err in results if err is not None]
    print(f"{args.requests} requests to {args.url} {args.api_name}, concurrency {args.concurrency}, {elapsed:.1f} s")
    if latencies:
        print(f"latency ms: p50 {percentile(latencies, 50):.0f}  p99 {percentile(latencies, 99):.0f}  "
              f"mean {statistics.fmean(latencies):.0f}  max {max(latencies):.0f}")
    print(f"throughput: {len(latencies) / elapsed:.1f} requests/s")
    print(f"errors: {len(errors)}")
    for err in sorted(set(errors))[:5]:
        print(f"  {errors.count(err)} x {err[:200]}")

    if args.oversized:
        try:
            call("good film " * (args.oversized // 10 + 1))
            print(f"input cap: a {args.oversized:,}-character text was ACCEPTED (no cap?)")
        except Exception as e:  # noqa: BLE001
            print(f"input cap: a {args.oversized:,}-character text was refused: {str(e)[:200]}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
