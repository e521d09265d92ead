"""Background jobs of the service: simulations and big telemetry uploads (a child process each)
and big decision batches (a thread each), with progress, results and cancellation — stored on
disk so that every worker process of the server sees every job.

Each job has a directory ``<jobs_dir>/<kind>/<id>/`` holding ``meta.json`` (kind, owner, created,
parameters, the pid that runs it), ``status.json`` (phase, progress, counts, error) and its
outputs: for a simulation ``summary.json``, ``comparison.json`` (against ``baseline``), the
Parquet tables and ``report.html`` written by ``sluicegate.simulate``; for a decision batch and
a telemetry upload ``result.json``. Cancelling writes a ``cancel`` marker (a decision batch
checks it between records) and terminates a simulation's or an upload's process (an upload's
batch is committed in one transaction at the end of its run: cancelled before, it leaves the
monitor's state as it was). Telemetry batches fold into the state one at a time
(``batch_lock``). Jobs belong to the key that started them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import multiprocessing
import os
import re
import secrets
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

_CTX = multiprocessing.get_context("spawn")
JOB_ID = re.compile(r"^[0-9a-f]{16}$")
KINDS = {"simulation": "simulations", "decisions": "decisions", "telemetry": "telemetry"}
TERMINAL = ("done", "failed", "cancelled")

PHASES = {
    "queued": 0.0,
    "starting": 0.05,
    "simulating": 0.15,
    "summarising": 0.6,
    "comparing": 0.7,
    "report": 0.9,
    "waiting": 0.05,  # telemetry: for another batch to finish (batches fold in one at a time)
    "monitoring": 0.2,
    "done": 1.0,
}


def _write_json(path: Path, body: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.{threading.get_ident()}.partial")
    tmp.write_text(json.dumps(body, default=str), encoding="utf-8")
    tmp.replace(path)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


def _write_status(directory: Path, phase: str, error: str | None = None, **extra: Any) -> None:
    if (directory / "status.json").is_file() and _read_json(directory / "status.json").get(
        "phase"
    ) == "cancelled":
        return  # a cancelled job stays cancelled
    _write_json(
        directory / "status.json",
        {"phase": phase, "progress": PHASES.get(phase, 0.0), "error": error, **extra},
    )


def _simulation_main(directory: str, scenario: str, draws: int, seed: int | None) -> None:
    """Child-process entry point: run, summarise, compare with baseline, write the report."""
    out = Path(directory)
    try:
        _write_status(out, "starting")
        from sluicegate.simulate import compare, run_scenario, summarise, write_outputs

        _write_status(out, "simulating")
        run = run_scenario(scenario, draws=draws, seed=seed)
        _write_status(out, "summarising")
        summary = summarise(run)
        _write_status(out, "comparing")
        if scenario != "baseline":
            try:
                comparison = compare(["baseline", scenario], draws=draws, seed=run.seed)
            except ValueError as exc:  # incompatible spans: say so, do not invent a comparison
                comparison = {"reference": "baseline", "policies": [scenario], "error": str(exc)}
        else:
            comparison = {"reference": "baseline", "policies": [], "frontier": []}
        _write_json(out / "comparison.json", comparison)
        _write_status(out, "report")
        write_outputs(run, out, summary)
        _write_status(out, "done")
    except Exception as exc:
        _write_status(out, "failed", f"{type(exc).__name__}: {exc}")


@contextlib.contextmanager
def batch_lock(path: Path, wait: bool = True) -> Iterator[bool]:
    """One telemetry batch at a time against the monitor's state, across threads and processes
    (an ``flock`` on a file beside the jobs; released by the kernel if the holder dies). Yields
    whether the lock is held (always, when ``wait``)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def run_telemetry(
    upload: Path,
    customers: list[dict[str, Any]],
    state_url: str,
    lock: Path,
    projection_days: int | None,
    window_days: int | None,
    waiting: Callable[[], None] | None = None,
    running: Callable[[], None] | None = None,
    wait: bool = True,
) -> dict[str, Any] | None:
    """Fold one uploaded telemetry file into the monitor's state (``run_monitor``, as
    ``sluice cloud monitor``) and return the summary, the alerts over all telemetry so far and
    the rejected rows. Raises ``TelemetryError`` for a file that cannot be read at all. Without
    ``wait``, returns None at once when another batch is being folded in."""
    from sluicegate.cloud import parse_customer, run_monitor

    parsed = [parse_customer(record) for record in customers]
    if waiting is not None:
        waiting()
    with batch_lock(lock, wait) as held:
        if not held:
            return None
        if running is not None:
            running()
        result = run_monitor(
            [str(upload)],
            customers=parsed,
            state_url=state_url,
            projection_days=projection_days,
            window_days=window_days,
        )
    return {
        "summary": result.summary | {"batch_id": result.batch_id},
        "alerts": result.alerts,
        "rejects": [r.to_json() for r in result.rejects[:1000]],
        "rejects_total": len(result.rejects),
    }


def _telemetry_main(
    directory: str,
    upload: str,
    customers: list[dict[str, Any]],
    state_url: str,
    lock: str,
    projection_days: int | None,
    window_days: int | None,
) -> None:
    """Child-process entry point of a telemetry upload."""
    out = Path(directory)
    try:
        body = run_telemetry(
            Path(upload),
            customers,
            state_url,
            Path(lock),
            projection_days,
            window_days,
            waiting=lambda: _write_status(out, "waiting"),
            running=lambda: _write_status(out, "monitoring"),
        )
        assert body is not None  # waited for the lock
        name = str(_read_json(out / "meta.json").get("params", {}).get("file") or "upload")
        body["summary"]["file"] = name
        for reject in body["rejects"]:
            reject["file"] = name
        _write_json(out / "result.json", body)
        _write_status(out, "done")
    except Exception as exc:
        message = str(exc).splitlines()[0] if str(exc) else ""
        message = message.replace(str(upload), "upload").replace(str(Path(upload).parent), "")
        _write_status(out, "failed", f"{type(exc).__name__}: {message}")
    finally:
        with contextlib.suppress(OSError):
            Path(upload).unlink()


def _alive(pid: int | None) -> bool:
    """Whether a process runs (an ended child not yet reaped counts as ended; it is not reaped
    here, so multiprocessing keeps its own bookkeeping)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


class Job:
    """A handle on one job directory."""

    def __init__(self, directory: Path, meta: dict[str, Any]) -> None:
        self.directory = directory
        self.meta = meta
        self.id: str = meta["job"]
        self.kind: str = meta["kind"]
        self.owner: str = meta["owner"]
        self.created: str = meta["created"]

    @property
    def status(self) -> dict[str, Any]:
        return _read_json(self.directory / "status.json")

    @property
    def state(self) -> str:
        return str(self.describe()["state"])

    def describe(self) -> dict[str, Any]:
        status = self.status
        phase = status.get("phase", "queued")
        progress = float(status.get("progress", 0.0))
        error = status.get("error")
        if phase in TERMINAL:
            state = phase
        elif not _alive(self.meta.get("pid")) and (self.directory / "meta.json").is_file():
            # the process (or server) that ran it is gone without finishing
            state, error = "failed", error or "the job's process ended before it finished"
        else:
            state = "queued" if phase == "queued" else "running"
        body: dict[str, Any] = {
            "job": self.id,
            "kind": self.kind,
            "state": state,
            "progress": round(1.0 if state == "done" else progress, 3),
            "created": self.created,
            "owner": self.owner,
            "error": error,
            "params": self.meta.get("params", {}),
        }
        if self.kind == "decisions":
            body["total"] = int(status.get("total", self.meta["params"].get("transactions", 0)))
            body["done"] = int(status.get("done", 0))
        return body


class JobManager:
    """All jobs under one directory (shared by every worker process of a server)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.processes: dict[str, Any] = {}
        self.lock = threading.Lock()

    def _new(self, kind: str, owner: str, params: dict[str, Any]) -> Job:
        job_id = secrets.token_hex(8)
        directory = self.root / KINDS[kind] / job_id
        directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "job": job_id,
            "kind": kind,
            "owner": owner,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "params": params,
            "pid": os.getpid(),
        }
        _write_json(directory / "meta.json", meta)
        _write_status(directory, "queued")
        return Job(directory, meta)

    def get(self, job_id: str, kind: str) -> Job | None:
        if not JOB_ID.match(job_id):
            return None
        directory = self.root / KINDS[kind] / job_id
        meta = _read_json(directory / "meta.json")
        return Job(directory, meta) if meta else None

    def jobs_of(self, kind: str) -> list[Job]:
        base = self.root / KINDS[kind]
        if not base.is_dir():
            return []
        jobs = [self.get(p.name, kind) for p in base.iterdir()]
        return sorted((j for j in jobs if j), key=lambda j: j.created, reverse=True)

    def running(self, kind: str) -> int:
        return sum(1 for j in self.jobs_of(kind) if j.describe()["state"] in ("queued", "running"))

    def start_simulation(self, owner: str, scenario: str, draws: int, seed: int | None) -> Job:
        job = self._new("simulation", owner, {"scenario": scenario, "draws": draws, "seed": seed})
        process = _CTX.Process(
            target=_simulation_main,
            args=(str(job.directory), scenario, draws, seed),
            daemon=True,
        )
        process.start()
        with self.lock:
            self.processes[job.id] = process
        job.meta["pid"] = process.pid
        _write_json(job.directory / "meta.json", job.meta)
        return job

    def start_telemetry(
        self,
        owner: str,
        upload: Path,
        customers: list[dict[str, Any]],
        state_url: str,
        params: dict[str, Any],
    ) -> Job:
        """Fold a big telemetry upload into the monitor's state in a child process."""
        job = self._new("telemetry", owner, params)
        process = _CTX.Process(
            target=_telemetry_main,
            args=(
                str(job.directory),
                str(upload),
                customers,
                state_url,
                str(self.telemetry_lock),
                params.get("projection_days"),
                params.get("window_days"),
            ),
            daemon=True,
        )
        process.start()
        with self.lock:
            self.processes[job.id] = process
        job.meta["pid"] = process.pid
        _write_json(job.directory / "meta.json", job.meta)
        return job

    @property
    def telemetry_lock(self) -> Path:
        return self.root / "telemetry.lock"

    def start_decisions(
        self,
        owner: str,
        records: list[Any],
        decide: Callable[[list[Any], Callable[[], bool], Callable[[int], None]], list[Any]],
        params: dict[str, Any],
    ) -> Job:
        job = self._new("decisions", owner, params)
        total = len(records)
        cancel_marker = job.directory / "cancel"

        def progress(done: int) -> None:
            if cancel_marker.exists():
                return
            _write_json(
                job.directory / "status.json",
                {
                    "phase": "running",
                    "progress": done / total if total else 1.0,
                    "done": done,
                    "total": total,
                    "error": None,
                },
            )

        def work() -> None:
            progress(0)
            try:
                result = decide(records, cancel_marker.exists, progress)
            except Exception as exc:
                _write_status(job.directory, "failed", f"{type(exc).__name__}: {exc}")
                return
            if cancel_marker.exists():
                return
            _write_json(job.directory / "result.json", {"decisions": result})
            _write_status(job.directory, "done", done=len(result), total=total)

        threading.Thread(target=work, daemon=True, name=f"decisions-{job.id}").start()
        return job

    def cancel(self, job: Job) -> None:
        if job.describe()["state"] in TERMINAL:
            return
        (job.directory / "cancel").touch()
        status = job.status
        _write_json(
            job.directory / "status.json",
            {**status, "phase": "cancelled", "error": "cancelled by request"},
        )
        if job.kind in ("simulation", "telemetry"):
            with self.lock:
                process = self.processes.pop(job.id, None)
            if process is not None:
                process.terminate()
                process.join(timeout=5)
            elif _alive(job.meta.get("pid")) and job.meta.get("pid") != os.getpid():
                with contextlib.suppress(OSError):
                    os.kill(int(job.meta["pid"]), signal.SIGTERM)

    def shutdown(self) -> None:
        with self.lock:
            processes = list(self.processes.values())
            self.processes.clear()
        for process in processes:
            if process.is_alive():
                process.terminate()
