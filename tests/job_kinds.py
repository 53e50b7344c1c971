"""Job kinds for the tests, imported by the test process and by the worker
(`AFTERSALES_JOB_MODULES=tests.job_kinds`), written as the contract in
ledger/jobs.py asks: chunks of entries, each chunk one unit of work whose
entries' idempotency keys come from the job's number and the chunk."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import update

from ledger import jobs, journal
from ledger.jobs import JobContext, job_kind
from ledger.journal import EntryIn, PostingIn
from ledger.models import Role

# Who may start the test kinds: anyone with a login, so roles can be tested.
ANYONE = tuple(Role)
SOURCE = "OPEN:STOCK:X1-LCD"
TARGET = "HQ:STOCK:X1-LCD"


class PostParams(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    entries: int = Field(ge=1, le=1000)
    chunk: int = Field(default=5, ge=1, le=100)
    pause: float = Field(default=0, ge=0, le=5)


@job_kind("test.post", roles=ANYONE, params=PostParams)
def post_entries(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Post `entries` one-unit entries in chunks of `chunk`, pausing `pause`
    seconds after each chunk (so a test can kill the worker mid-way)."""
    total, size, pause = params["entries"], params["chunk"], params["pause"]
    chunks = (total + size - 1) // size
    for n in range(chunks):
        batch = [
            EntryIn(
                kind="test_job",
                memo=f"chunk {n}",
                refs={"job": ctx.number},
                postings=[
                    PostingIn(account=SOURCE, amount=-1),
                    PostingIn(account=TARGET, amount=1),
                ],
                idempotency_key=f"{ctx.number}/{n}/{i}",
            )
            for i in range(n * size, min((n + 1) * size, total))
        ]
        ctx.db.transact(lambda s, batch=batch: journal.post_entries(s, batch, actor="job"))
        ctx.progress(min((n + 1) * size, total), total, f"chunk {n + 1} of {chunks}")
        if pause:
            time.sleep(pause)
    return {"posted": total, "chunks": chunks, "rerun": ctx.rerun}


@job_kind("test.flaky", roles=ANYONE)
def flaky(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Fails on its first attempt (with a two-line message), succeeds after."""
    if not ctx.rerun:
        raise RuntimeError(f"{params.get('why', 'the first attempt fails')}\nnot shown")
    return {"attempt": ctx.attempt}


@job_kind("test.superseded")
def superseded(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """As if this run had been given up on and the job resumed elsewhere
    meanwhile: its next progress call must stop it."""
    ctx.db.transact(
        lambda s: s.execute(
            update(jobs.job_t).where(jobs.job_t.c.id == ctx.job_id).values(status="queued")
        )
    )
    ctx.progress(1, 2, "never recorded")
    return {"unreachable": True}
