"""Background jobs of the service: simulations (a child process each) and big decision batches
(a thread each), with progress, results and cancellation.

A simulation runs ``sluicegate.simulate`` in a spawned process that writes ``status.json``,
``summary.json``, ``comparison.json`` (against ``baseline``) and ``report.html`` into its job
directory; cancelling terminates the process. A decision batch runs ``decide_stream`` in a thread
and checks a cancel flag between records. Jobs belong to the key that started them.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_CTX = multiprocessing.get_context("spawn")

PHASES = {
    "queued": 0.0,
    "starting": 0.05,
    "simulating": 0.15,
    "summarising": 0.6,
    "comparing": 0.7,
    "report": 0.9,
    "done": 1.0,
}


def _write_status(directory: Path, phase: str, error: str | None = None) -> None:
    tmp = directory / "status.json.partial"
    tmp.write_text(
        json.dumps({"phase": phase, "progress": PHASES.get(phase, 0.0), "error": error}),
        encoding="utf-8",
    )
    tmp.replace(directory / "status.json")


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
        (out / "comparison.json").write_text(json.dumps(comparison, default=str), encoding="utf-8")
        _write_status(out, "report")
        write_outputs(run, out, summary)
        _write_status(out, "done")
    except Exception as exc:
        _write_status(out, "failed", f"{type(exc).__name__}: {exc}")


@dataclass
class Job:
    id: str
    kind: str
    owner: str
    created: str
    directory: Path | None = None
    process: Any = None
    state: str = "queued"
    progress: float = 0.0
    total: int = 0
    done: int = 0
    error: str | None = None
    result: Any = None
    cancel: threading.Event = field(default_factory=threading.Event)
    params: dict[str, Any] = field(default_factory=dict)

    def refresh(self) -> None:
        """Update state and progress of a simulation from its directory and process."""
        if self.kind != "simulation" or self.state in ("done", "failed", "cancelled"):
            return
        assert self.directory is not None
        status_path = self.directory / "status.json"
        status: dict[str, Any] = {}
        if status_path.is_file():
            try:
                status = json.loads(status_path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                status = {}
        phase = status.get("phase", "queued")
        self.progress = float(status.get("progress", 0.0))
        if phase == "done":
            self.state, self.progress = "done", 1.0
        elif phase == "failed":
            self.state, self.error = "failed", status.get("error")
        elif self.process is not None and not self.process.is_alive():
            self.state, self.error = "failed", "the simulation process ended unexpectedly"
        else:
            self.state = "running" if phase != "queued" else "queued"

    def describe(self) -> dict[str, Any]:
        self.refresh()
        body: dict[str, Any] = {
            "job": self.id,
            "kind": self.kind,
            "state": self.state,
            "progress": round(self.progress, 3),
            "created": self.created,
            "owner": self.owner,
            "error": self.error,
            "params": self.params,
        }
        if self.kind == "decisions":
            body["total"] = self.total
            body["done"] = self.done
        return body


class JobManager:
    """All jobs of one service process."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()

    def _new(self, kind: str, owner: str, params: dict[str, Any]) -> Job:
        job = Job(
            id=secrets.token_hex(8),
            kind=kind,
            owner=owner,
            created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            params=params,
        )
        with self.lock:
            self.jobs[job.id] = job
        return job

    def get(self, job_id: str) -> Job | None:
        with self.lock:
            return self.jobs.get(job_id)

    def start_simulation(self, owner: str, scenario: str, draws: int, seed: int | None) -> Job:
        job = self._new("simulation", owner, {"scenario": scenario, "draws": draws, "seed": seed})
        job.directory = self.root / "simulations" / job.id
        job.directory.mkdir(parents=True, exist_ok=True)
        _write_status(job.directory, "queued")
        job.process = _CTX.Process(
            target=_simulation_main,
            args=(str(job.directory), scenario, draws, seed),
            daemon=True,
        )
        job.process.start()
        job.state = "running"
        return job

    def start_decisions(
        self,
        owner: str,
        records: list[Any],
        decide: Callable[[list[Any], threading.Event, Callable[[int], None]], list[Any]],
        params: dict[str, Any],
    ) -> Job:
        job = self._new("decisions", owner, params)
        job.total = len(records)

        def progress(done: int) -> None:
            job.done = done
            job.progress = done / job.total if job.total else 1.0

        def work() -> None:
            job.state = "running"
            try:
                result = decide(records, job.cancel, progress)
            except Exception as exc:
                job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"
                return
            if job.cancel.is_set():
                job.state = "cancelled"
                return
            job.result, job.state, job.progress = result, "done", 1.0

        threading.Thread(target=work, daemon=True, name=f"decisions-{job.id}").start()
        return job

    def cancel(self, job: Job) -> None:
        job.refresh()
        if job.state in ("done", "failed", "cancelled"):
            return
        job.cancel.set()
        if job.process is not None and job.process.is_alive():
            job.process.terminate()
            job.process.join(timeout=5)
        job.state = "cancelled"

    def shutdown(self) -> None:
        for job in list(self.jobs.values()):
            job.cancel.set()
            if job.process is not None and job.process.is_alive():
                job.process.terminate()
