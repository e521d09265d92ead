"""Simulations over HTTP: start a shipped scenario as a background job, follow its progress,
cancel it, fetch its summary.json, comparison with baseline and HTML report."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse

from sluicegate.service.auth import allow
from sluicegate.service.errors import ApiError
from sluicegate.service.models import Job, SimulationRequest
from sluicegate.service.routers.common import AUTH, errors, example
from sluicegate.service.store import Principal

router = APIRouter(prefix="/v1/simulations", tags=["simulations"])


def _job(request: Request, job_id: str) -> Any:
    job = request.app.state.jobs.get(job_id, "simulation")
    if job is None:
        raise ApiError(404, f"no simulation job {job_id!r}", "job")
    return job


def _finished(request: Request, job_id: str, name: str) -> Any:
    job = _job(request, job_id)
    state = job.describe()["state"]
    if state != "done":
        raise ApiError(409, f"simulation is {state}, not done", "job")
    path = job.directory / name
    if not path.is_file():
        raise ApiError(404, f"{name} is missing for this job", "job")
    return path


@router.post("", response_model=Job, status_code=202, responses=errors(*AUTH, 409, 413, 422))
def start(
    request: Request,
    body: SimulationRequest,
    principal: Principal = Depends(allow("simulate")),
) -> dict[str, Any]:
    """Run a shipped scenario in the background (with a comparison against ``baseline``)."""
    from sluicegate.simulate import shipped_scenarios

    if body.scenario not in shipped_scenarios():
        raise ApiError(
            422,
            f"unknown scenario {body.scenario!r}; shipped: {', '.join(shipped_scenarios())}",
            "scenario",
        )
    settings = request.app.state.settings
    if body.draws > settings.max_simulation_draws:
        raise ApiError(
            422, f"at most {settings.max_simulation_draws} draws on this server", "draws"
        )
    if request.app.state.jobs.running("simulation") >= settings.max_running_simulations:
        raise ApiError(
            409,
            f"{settings.max_running_simulations} simulations are running already; "
            "wait for one to finish or cancel one",
            "scenario",
        )
    job = request.app.state.jobs.start_simulation(
        principal.name, body.scenario, body.draws, body.seed
    )
    described: dict[str, Any] = job.describe()
    return described


@router.get("/{job_id}", response_model=Job, responses=errors(*AUTH, 404))
def status(
    request: Request, job_id: str, _p: Principal = Depends(allow("simulation-results"))
) -> dict[str, Any]:
    """State and progress (0 to 1) of a simulation."""
    described: dict[str, Any] = _job(request, job_id).describe()
    return described


@router.get(
    "/{job_id}/result",
    response_model=dict[str, Any],
    responses={
        **errors(*AUTH, 404, 409),
        **example(
            {
                "scenario": "baseline",
                "draws": 50,
                "seed": 20250513,
                "start": "2022-01",
                "end": "2035-12",
                "actors": {"CN": {"lag_months": {"2030": {"p10": 1.2, "p50": 5.8, "p90": 9.6}}}},
            }
        ),
    },
)
def result(
    request: Request, job_id: str, _p: Principal = Depends(allow("simulation-results"))
) -> dict[str, Any]:
    """The run's summary.json (contract §6)."""
    body: dict[str, Any] = json.loads(
        _finished(request, job_id, "summary.json").read_text(encoding="utf-8")
    )
    return body


@router.get(
    "/{job_id}/comparison",
    response_model=dict[str, Any],
    responses={
        **errors(*AUTH, 404, 409),
        **example(
            {
                "reference": "baseline",
                "policies": ["diffusion-enforced-2025-05"],
                "frontier": [
                    {
                        "policy": "diffusion-enforced-2025-05",
                        "actor": "CN",
                        "delay_months_2030_p50": 1.65,
                        "compute_change_2030_p50": -0.12,
                        "cost_usd_p50": 46678704576.3,
                    }
                ],
            }
        ),
    },
)
def comparison(
    request: Request, job_id: str, _p: Principal = Depends(allow("simulation-results"))
) -> dict[str, Any]:
    """The policy comparison against ``baseline`` (delay, compute change and cost per actor)."""
    body: dict[str, Any] = json.loads(
        _finished(request, job_id, "comparison.json").read_text(encoding="utf-8")
    )
    return body


@router.get(
    "/{job_id}/report",
    response_class=FileResponse,
    responses={**errors(*AUTH, 404, 409), 200: {"content": {"text/html": {}}}},
)
def report(
    request: Request, job_id: str, _p: Principal = Depends(allow("simulation-results"))
) -> FileResponse:
    """The offline HTML report of the run."""
    return FileResponse(
        _finished(request, job_id, "report.html"),
        media_type="text/html",
        filename=f"simulation-{job_id}.html",
    )


@router.delete("/{job_id}", response_model=Job, responses=errors(*AUTH, 404))
def cancel(
    request: Request, job_id: str, _p: Principal = Depends(allow("simulate"))
) -> dict[str, Any]:
    """Cancel a running simulation (its process is terminated)."""
    job = _job(request, job_id)
    request.app.state.jobs.cancel(job)
    described: dict[str, Any] = job.describe()
    return described


@router.get("", response_model=list[Job], responses=errors(*AUTH))
def list_jobs(
    request: Request, _p: Principal = Depends(allow("simulation-results"))
) -> list[dict[str, Any]]:
    """Every simulation job of this server, newest first."""
    return [j.describe() for j in request.app.state.jobs.jobs_of("simulation")[:100]]
