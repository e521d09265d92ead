"""Service benchmark: a bounded load against ``POST /v1/decisions`` on loopback.

Run: python benchmarks/service.py [--requests 5000] [--clients 8] [--workers 2]

Starts the real server (uvicorn, loopback, ``--workers`` processes, a temporary SQLite database
and one compliance key, rate limit lifted), sends a fixed number of single-transaction decision
requests from ``--clients`` concurrent keep-alive connections (threads, each a minimal raw-socket HTTP/1.1 client,
so the load generator costs little of the CPU the server needs) and
stops by itself. Prints throughput, p50/p90/p99 latency and errors; then the same figures for
in-process ``decide_records`` on the same transaction, one call at a time (the ceiling: no HTTP,
no JSON, no authentication). Target: >= 500 requests/s at p99 <= 50 ms with zero errors.
Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import percentile, save

TXN: dict[str, Any] = {
    "id": "order-42",
    "date": "2025-06-01",
    "destination": "IN",
    "item": {"chip": "nvidia-h100-sxm"},
    "quantity": 1000,
    "consignee": {"id": "acme-in", "name": "Acme Compute", "headquarters": "IN"},
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _figures(latencies: list[float], elapsed: float, errors: int) -> dict[str, float]:
    return {
        "requests": len(latencies) + errors,
        "errors": errors,
        "seconds": round(elapsed, 3),
        "per_second": round((len(latencies) + errors) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 2) if latencies else float("nan"),
        "p90_ms": round(percentile(latencies, 90) * 1000, 2) if latencies else float("nan"),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2) if latencies else float("nan"),
    }


class _Connection:
    """A minimal keep-alive HTTP/1.1 client on a raw socket: the load generator must cost far
    less CPU than the server it measures (both share the same cores)."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def request(self, raw: bytes) -> tuple[int, bytes]:
        self.sock.sendall(raw)
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buffer += chunk
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            rest += chunk
        self.buffer = rest[length:]
        return status, rest[:length]

    def close(self) -> None:
        self.sock.close()


def load(host: str, port: int, key: str, total: int, clients: int) -> dict[str, float]:
    body = json.dumps(TXN).encode()
    raw = (
        f"POST /v1/decisions HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(total))

    def worker() -> None:
        nonlocal errors
        mine: list[float] = []
        bad = 0
        connection = _Connection(host, port)
        try:
            while True:
                with lock:
                    if next(counter, None) is None:
                        break
                start = time.perf_counter()
                try:
                    status, payload = connection.request(raw)
                    ok = status == 200 and b'"authorization"' in payload
                except (OSError, ValueError, IndexError):
                    ok = False
                    connection.close()
                    connection = _Connection(host, port)
                took = time.perf_counter() - start
                if ok:
                    mine.append(took)
                else:
                    bad += 1
        finally:
            connection.close()
        with lock:
            latencies.extend(mine)
            errors += bad

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return _figures(latencies, time.perf_counter() - started, errors)


def in_process(total: int) -> dict[str, float]:
    from sluicegate.rules import decide_records

    decide_records([TXN])
    latencies = []
    started = time.perf_counter()
    for _ in range(total):
        start = time.perf_counter()
        decide_records([TXN])
        latencies.append(time.perf_counter() - start)
    return _figures(latencies, time.perf_counter() - started, 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)

    from sluicegate.service.store import Store

    tmp = Path(tempfile.mkdtemp(prefix="sluice-bench-service-"))
    url = f"sqlite:///{tmp}/service.db"
    key = Store(url).add_user("bench", "compliance")
    port = _free_port()
    env = {
        **os.environ,
        "SLUICE_DATABASE_URL": url,
        "SLUICE_JOBS_DIR": str(tmp / "jobs"),
        "SLUICE_RATE_PER_SECOND": "1000000",
        "SLUICE_RATE_BURST": "1000000",
    }
    server = subprocess.Popen(
        [
            sys.executable, "-m", "uvicorn", "sluicegate.service.app:app_from_env", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers),
            "--log-level", "warning", "--no-access-log",
        ],
        env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                print("the server did not start", file=sys.stderr)
                return 1
            time.sleep(0.2)
        # warm every worker (first decisions load the regimes)
        load("127.0.0.1", port, key, 40 * args.workers * args.clients, args.clients)
        http = load("127.0.0.1", port, key, args.requests, args.clients)
    finally:
        server.terminate()
        server.wait(timeout=10)
    ceiling = in_process(args.requests)
    print(
        f"POST /v1/decisions, {args.requests} requests, {args.clients} clients, "
        f"{args.workers} workers, {os.cpu_count()} CPUs"
    )
    for label, fig in (("HTTP service", http), ("in-process decide_records (ceiling)", ceiling)):
        print(
            f"  {label:38s} {fig['per_second']:8.1f} req/s  p50 {fig['p50_ms']:6.2f} ms  "
            f"p90 {fig['p90_ms']:6.2f} ms  p99 {fig['p99_ms']:6.2f} ms  errors {fig['errors']}"
        )
    ratio = http["per_second"] / ceiling["per_second"]
    met = http["per_second"] >= 500 and http["p99_ms"] <= 50 and http["errors"] == 0
    print(f"  service / ceiling throughput: {ratio:.2f}")
    print(f"  target (>= 500 req/s, p99 <= 50 ms, 0 errors): {'met' if met else 'NOT met'}")
    path = save(
        "service",
        {
            "requests": args.requests,
            "clients": args.clients,
            "workers": args.workers,
            "http": http,
            "in_process": ceiling,
            "ratio_to_ceiling": round(ratio, 3),
            "target_met": met,
        },
    )
    print(f"  figures written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
