"""Demo request latency through gradio_client: p50 / p99 of ``/classify`` over N sequential
requests to a running demo (started here on a free port unless ``--url`` is given).

    python benchmarks/demo_latency.py --n 200                       # the bundles in checkpoints/
    python benchmarks/demo_latency.py --url http://127.0.0.1:7860/ --model thucnews-nonstatic-char200
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["main"]

REPO = Path(__file__).resolve().parents[1]
SENTENCES = {
    "mr": ["A gorgeous, witty, seductive movie.", "An overlong, self-indulgent mess.",
           "Not the best film of the year, but a charming and sincere one."],
    "thucnews": ["国足主帅公布世界杯预选赛大名单", "央行宣布下调存款准备金率0.5个百分点"],
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=200, help="requests")
    p.add_argument("--url", default=None, help="a running demo; default: start app.py here")
    p.add_argument("--model", default=None, help="bundle name (default: the first in checkpoints/)")
    args = p.parse_args(argv)
    from gradio_client import Client

    server = None
    url = args.url
    if url is None:
        port = _free_port()
        env = {**os.environ, "TEXTCNN_PORT": str(port)}
        server = subprocess.Popen([sys.executable, str(REPO / "app.py")], env=env, cwd=REPO,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(120):
            try:
                client = Client(url, verbose=False)
                break
            except Exception:
                time.sleep(1)
        else:
            raise SystemExit(f"{url}: the demo did not answer within 120 s")
        model = args.model or next(p.name for p in sorted((REPO / "checkpoints").iterdir())
                                   if (p / "textcnn.json").is_file())
        texts = SENTENCES["thucnews" if "thucnews" in model else "mr"]
        client.predict(model, texts[0], api_name="/classify")  # warm-up
        times = []
        for i in range(args.n):
            start = time.perf_counter()
            client.predict(model, texts[i % len(texts)], api_name="/classify")
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        p99 = times[min(len(times) - 1, int(round(0.99 * len(times))) - 1)]
        print(f"{args.n} requests to /classify ({model}) through gradio_client: p50 "
              f"{statistics.median(times):.1f} ms, p99 {p99:.1f} ms, mean {statistics.fmean(times):.1f} ms")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
