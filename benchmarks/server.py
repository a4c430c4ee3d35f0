"""``POST /v1/fine_tuning/alpha/graders/run`` over loopback, against the same grader called in-process.

Both sides grade the same (grader, sample, item) requests in the same run (these machines are
noisy, so only same-run ratios mean much):

- **in-process**: :func:`openrft.graders.run_grader_async` with ``--concurrency`` requests in flight;
- **HTTP**: ``openrft serve --no-worker`` in its own process on 127.0.0.1, driven by an
  ``httpx.AsyncClient`` with the same number of requests in flight (JSON body, bearer key,
  OpenAI's ``RunGraderResponse`` back).

For each grader it prints requests per second, p50 and p99 latency per request on both sides,
and the ratio of HTTP to in-process throughput.

Run: ``.venv/bin/python benchmarks/server.py [--requests 2000] [--concurrency 8]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from openrft.graders import GraderRuntime, run_grader_async

KEY = "sk-bench"
GRADERS: dict[str, dict[str, Any]] = {
    "string_check": {
        "type": "string_check",
        "name": "exact",
        "input": "{{sample.output_text}}",
        "reference": "{{item.reference_answer}}",
        "operation": "ilike",
    },
    "text_similarity (rouge_l)": {
        "type": "text_similarity",
        "name": "rouge",
        "input": "{{sample.output_text}}",
        "reference": "{{item.reference_answer}}",
        "evaluation_metric": "rouge_l",
    },
    "python (sandbox)": {
        "type": "python",
        "name": "overlap",
        "source": (
            "def grade(sample, item):\n"
            "    a = set(sample['output_text'].lower().split())\n"
            "    b = set(item['reference_answer'].lower().split())\n"
            "    return len(a & b) / max(len(a | b), 1)\n"
        ),
    },
}
ITEM = {"reference_answer": "withdrawal of thought"}
ANSWER = "thought withdrawal"


async def drive(
    call: Callable[[], Awaitable[float]], requests: int, concurrency: int
) -> tuple[float, list[float]]:
    """Run ``requests`` calls, ``concurrency`` at a time; (requests per second, latencies in s)."""
    latencies: list[float] = []
    remaining = iter(range(requests))

    async def lane() -> None:
        for _ in remaining:
            latencies.append(await call())

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return requests / (time.perf_counter() - started), latencies


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] * 1000


def start_server(port: int, data_dir: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OPENRFT_API_KEYS": KEY}
    command = [sys.executable, "-m", "openrft.cli", "serve", "--no-worker", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--data-dir", data_dir], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(
                f"http://127.0.0.1:{port}/v1/models", headers={"Authorization": f"Bearer {KEY}"}
            ).is_success:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not start")


async def bench(
    args: argparse.Namespace, port: int
) -> list[tuple[str, float, list[float], float, list[float]]]:
    runtime = GraderRuntime()
    rows = []
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}/v1",
        headers={"Authorization": f"Bearer {KEY}"},
        limits=limits,
        timeout=60,
    ) as client:
        for label, grader in GRADERS.items():

            async def local(grader: dict[str, Any] = grader) -> float:
                started = time.perf_counter()
                await run_grader_async(grader, ANSWER, ITEM, runtime=runtime)
                return time.perf_counter() - started

            body = {"grader": grader, "item": ITEM, "model_sample": ANSWER}

            async def remote(body: dict[str, Any] = body) -> float:
                started = time.perf_counter()
                reply = await client.post("/fine_tuning/alpha/graders/run", json=body)
                reply.raise_for_status()
                return time.perf_counter() - started

            # Warm both sides (sandbox pools, connections), then measure in-process first, then HTTP.
            await drive(local, 50, args.concurrency)
            await drive(remote, 50, args.concurrency)
            local_rps, local_lat = await drive(local, args.requests, args.concurrency)
            http_rps, http_lat = await drive(remote, args.requests, args.concurrency)
            rows.append((label, local_rps, local_lat, http_rps, http_lat))
    runtime.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with socket.socket() as sock:  # a free loopback port
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as data_dir:
        server = start_server(port, data_dir)
        try:
            rows = asyncio.run(bench(args, port))
        finally:
            server.terminate()
            server.wait()
    console = Console(width=150)
    table = Table(
        title=f"graders/run: {args.requests} requests, {args.concurrency} in flight "
        f"({platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()})"
    )
    for column in (
        "grader",
        "in-process req/s",
        "p50 ms",
        "p99 ms",
        "HTTP req/s",
        "p50 ms",
        "p99 ms",
        "HTTP / in-process",
    ):
        table.add_column(column, justify="right")
    for label, local_rps, local_lat, http_rps, http_lat in rows:
        table.add_row(
            label,
            f"{local_rps:,.0f}",
            f"{pct(local_lat, 50):.2f}",
            f"{pct(local_lat, 99):.2f}",
            f"{http_rps:,.0f}",
            f"{pct(http_lat, 50):.2f}",
            f"{pct(http_lat, 99):.2f}",
            f"{http_rps / local_rps:.3f}",
        )
    console.print(table)


if __name__ == "__main__":
    main()
