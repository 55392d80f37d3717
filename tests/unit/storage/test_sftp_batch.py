"""The scheduling of SFTP batches: many jobs at once, counted exactly, stopped by a failure."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from shotbase.storage.accessor._sftp_batch import FileJob, run_jobs


def jobs(count: int) -> list[FileJob]:
    return [FileJob(Path(f"f{index}"), f"/r/f{index}", f"f{index}") for index in range(count)]


def test_bytes_of_concurrent_jobs_add_up() -> None:
    async def transfer(job: FileJob) -> int:
        await asyncio.sleep(0)
        return 10

    assert asyncio.run(run_jobs(jobs(50), 8, transfer)) == 500


def test_no_job_starts_after_a_failure_and_the_first_error_is_raised() -> None:
    started: list[str] = []

    async def transfer(job: FileJob) -> int:
        started.append(job.resource_identifier)
        await asyncio.sleep(0)
        if job.resource_identifier == "f3":
            raise ValueError("f3 failed")
        return 1

    with pytest.raises(ValueError, match="f3 failed"):
        asyncio.run(run_jobs(jobs(50), 4, transfer))
    assert len(started) < 10


def test_at_most_concurrency_jobs_run_at_once() -> None:
    running, peak = 0, 0

    async def transfer(job: FileJob) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0)
        running -= 1
        return 0

    asyncio.run(run_jobs(jobs(20), 3, transfer))
    assert peak == 3
