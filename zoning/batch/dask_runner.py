"""Run the chunks on Dask (``dask.distributed``): a LocalCluster or a scheduler on other machines.

Why futures over the same ``process_chunk``: the local loop and the cluster then share one code
path, so results are identical by construction. Reading stays on the client and only a bounded
window of chunks is in flight, so neither the client nor the workers ever hold the whole input;
each worker builds its screener once (``ScreenerSpec.build`` caches per process) from the data
folder it sees, which on a real cluster is shared storage named by ``ZONING_DATA_DIR``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from zoning.batch.chunk import ChunkJob, ChunkResult, process_chunk
from zoning.errors import ZoningError

Task = tuple[int, Any, int]


class DaskRunner:
    """Submit chunks to a ``distributed.Client``, at most ``window`` at a time."""

    def __init__(self, client: Any, window: int | None = None) -> None:
        self.client = client
        threads = sum(client.nthreads().values()) or 1
        self.window = window or max(2, 2 * threads)

    def run(self, job: ChunkJob, tasks: Iterable[Task]) -> Iterator[ChunkResult]:
        from distributed import as_completed

        pending = iter(tasks)
        job_future = self.client.scatter(job, broadcast=True)
        queue = as_completed()

        def submit_next() -> bool:
            task = next(pending, None)
            if task is None:
                return False
            index, raw, start = task
            queue.add(self.client.submit(process_chunk, job_future, index, raw, start, pure=False))
            return True

        for _ in range(self.window):
            if not submit_next():
                break
        for future in queue:
            result = future.result()  # re-raises the worker's exception here
            future.release()
            submit_next()
            yield result


@contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None) -> Iterator[Any]:
    """A client for ``--scheduler ADDRESS``, or a LocalCluster of ``--workers N`` processes."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - dask[distributed] is a dependency
        raise ZoningError("dask.distributed is not installed", field="workers",
                          hint="pip install 'dask[distributed]'") from exc
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise ZoningError(f"cannot reach the Dask scheduler at {scheduler}: {exc}", field="scheduler",
                              hint="start it with `dask scheduler` and give its tcp://host:8786 address") from exc
        try:
            yield client
        finally:
            client.close()
        return
    if not workers or workers < 1:
        raise ZoningError("--workers must be at least 1", field="workers")
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=":0")
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
