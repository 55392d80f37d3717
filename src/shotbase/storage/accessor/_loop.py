"""One background thread running an asyncio event loop, behind a blocking API.

The SFTP accessor is synchronous (it must fit the official client's accessor interface) but
asyncssh is asynchronous; every SFTP accessor in the process shares this loop thread, so
concurrent requests from many accessors and many threads are multiplexed on one loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["LoopThread", "shared_loop"]

T = TypeVar("T")

_lock = threading.Lock()
_shared: LoopThread | None = None


class LoopThread:
    """An event loop running forever in a daemon thread."""

    def __init__(self, name: str = "shotbase-storage-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"LoopThread(name={self._thread.name!r}, alive={self._thread.is_alive()})"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coroutine`` on the loop and return a future for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coroutine`` on the loop and block until it finishes.

        Raises:
            RuntimeError: If called from the loop thread itself (it would deadlock).
        """
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError("LoopThread.run called from its own loop thread")
        return self.submit(coroutine).result(timeout)


def shared_loop() -> LoopThread:
    """Return the process-wide loop thread, starting it on first use."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = LoopThread()
        return _shared
