"""Service settings: database, body limit, rate limits and job storage, from the environment.

Every value has an embedded default so ``sluice serve`` works on a clean clone (SQLite in the
working directory). ``create_app`` takes a ``Settings``; tests build one directly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


@dataclass
class Settings:
    """Configuration of one service instance."""

    database_url: str = "sqlite:///./sluicegate.db"
    max_body_bytes: int = 10 * 1024 * 1024
    rate_per_second: float = 50.0
    rate_burst: int = 100
    batch_job_threshold: int = 1000
    jobs_dir: Path = field(default_factory=lambda: Path("./sluice-jobs"))
    max_simulation_draws: int = 1000
    max_running_simulations: int = 2
    cookie_secure: bool = False
    audit_decisions: bool = True
    telemetry_job_bytes: int = 2 * 1024 * 1024
    max_running_telemetry: int = 2

    @classmethod
    def from_env(cls) -> Settings:
        """Read ``SLUICE_*`` variables; unset ones keep their defaults."""
        return cls(
            database_url=os.environ.get("SLUICE_DATABASE_URL") or "sqlite:///./sluicegate.db",
            max_body_bytes=_env_int("SLUICE_MAX_BODY_BYTES", 10 * 1024 * 1024),
            rate_per_second=_env_float("SLUICE_RATE_PER_SECOND", 50.0),
            rate_burst=_env_int("SLUICE_RATE_BURST", 100),
            batch_job_threshold=_env_int("SLUICE_BATCH_JOB_THRESHOLD", 1000),
            jobs_dir=Path(os.environ.get("SLUICE_JOBS_DIR") or "./sluice-jobs"),
            max_simulation_draws=_env_int("SLUICE_MAX_SIMULATION_DRAWS", 1000),
            max_running_simulations=_env_int("SLUICE_MAX_RUNNING_SIMULATIONS", 2),
            cookie_secure=os.environ.get("SLUICE_COOKIE_SECURE", "") == "1",
            audit_decisions=os.environ.get("SLUICE_AUDIT_DECISIONS", "1") != "0",
            telemetry_job_bytes=_env_int("SLUICE_TELEMETRY_JOB_BYTES", 2 * 1024 * 1024),
            max_running_telemetry=_env_int("SLUICE_MAX_RUNNING_TELEMETRY", 2),
        )
