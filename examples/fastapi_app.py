"""A FastAPI backend that feeds BuildingMinds: push one record, read a batch, run a job.

One ``AsyncClient`` for the whole app (opened in the lifespan, shared by every request:
one token, one connection pool), the SDK's models as request bodies, and SDK errors
answered as a caller of this API expects (``install_error_handlers``).

- ``POST /buildings``: a building (the SDK's ``Building`` model validates the body) is
  pushed; the answer is its Batch ID.
- ``POST /records/{entity}``: any entity as a JSON object; a record that does not
  validate is a 422 naming its field.
- ``GET /batches/{batch_id}``: the record statuses of a batch, counted.
- ``POST /onboarding``: a list of records onboarded in the background (202 and a job id);
  ``GET /onboarding/{job_id}`` reads its progress while it runs and its report after.

Run it against BuildingMinds (``BUILDINGMINDS_*`` set, see the README) with
``uvicorn examples.fastapi_app:app``. Its tests (``tests/examples/test_fastapi_app.py``)
run it against the sandbox by overriding ``get_client``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel

from buildingminds_async import AsyncClient, OnboardingReport, Progress
from buildingminds_async.fastapi import BuildingMindsClient, install_error_handlers, open_client
from buildingminds_async.models import Building


@dataclasses.dataclass
class Job:
    """One background onboarding run: its latest progress, then its report."""

    id: str
    state: Literal["running", "done", "failed"] = "running"
    progress: Progress | None = None
    report: OnboardingReport | None = None
    error: str | None = None
    task: asyncio.Task[None] | None = dataclasses.field(default=None, repr=False)

    def view(self) -> dict[str, Any]:
        view: dict[str, Any] = {"job_id": self.id, "state": self.state}
        if self.progress is not None:
            view["progress"] = dataclasses.asdict(self.progress)
        if self.report is not None:
            view["report"] = self.report.summary()
        if self.error is not None:
            view["error"] = self.error
        return view


class Jobs:
    """The app's background jobs; cancelled at shutdown (their journal-less records then
    stay pending: give ``onboard`` a journal to resume them)."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}

    def start(self, client: AsyncClient, records: list[dict[str, Any]]) -> Job:
        job = Job(id=uuid.uuid4().hex)

        def on_progress(progress: Progress) -> None:
            job.progress = progress

        async def run() -> None:
            try:
                job.report = await client.onboard(records, on_progress=on_progress)
            except Exception as exc:  # noqa: BLE001 (the job's outcome, read by GET /onboarding/{id})
                job.state, job.error = "failed", str(exc)
            else:
                job.state = "done"

        job.task = asyncio.create_task(run(), name=f"onboarding {job.id}")
        self._jobs[job.id] = job
        return job

    def get(self, job_id: str) -> Job:
        if (job := self._jobs.get(job_id)) is None:
            raise HTTPException(404, f"no onboarding job {job_id}")
        return job

    async def cancel_all(self) -> None:
        tasks = [job.task for job in self._jobs.values() if job.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.jobs = Jobs()
    async with open_client(app):  # AsyncClient() from BUILDINGMINDS_*; a token now
        try:
            yield
        finally:
            await app.state.jobs.cancel_all()


app = FastAPI(title="BuildingMinds feeder", lifespan=lifespan)
install_error_handlers(app)


class Accepted(BaseModel):
    batch_id: str


class OnboardingStarted(BaseModel):
    job_id: str


@app.post("/buildings")
async def push_building(building: Building, client: BuildingMindsClient) -> Accepted:
    return Accepted(batch_id=await client.push("building", [building]))


@app.post("/records/{entity}")
async def push_record(entity: str, record: dict[str, Any], client: BuildingMindsClient) -> Accepted:
    return Accepted(batch_id=await client.push(entity, [record]))


@app.get("/batches/{batch_id}")
async def batch_status(batch_id: str, client: BuildingMindsClient) -> dict[str, Any]:
    result = await client.batches.result(batch_id)
    return {
        "batch_id": batch_id,
        "done": result.done,
        "completed": result.completed,
        "failed": result.failed,
        "pending": result.pending,
        "statuses": dict(result.status_counts),
    }


@app.post("/onboarding", status_code=202)
async def start_onboarding(
    records: list[dict[str, Any]], request: Request, client: BuildingMindsClient
) -> OnboardingStarted:
    job = request.app.state.jobs.start(client, records)
    return OnboardingStarted(job_id=job.id)


@app.get("/onboarding/{job_id}")
async def onboarding_status(job_id: str, request: Request) -> dict[str, Any]:
    job: Job = request.app.state.jobs.get(job_id)
    return job.view()
