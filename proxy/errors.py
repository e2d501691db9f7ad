"""Vernier's exception tree.

Every error a user can cause or fix carries a message meant for them; a traceback is never the
message.

    VernierError
    ├── ConfigError          a config or rules file is invalid (names file:line and key path)
    ├── UsageError           a command-line flag or value is invalid
    ├── StartupError         the process cannot start safely (unsafe aiohttp build, port in use, ...)
    ├── StoreUnavailable     the Redis-protocol store did not answer in time, or the breaker is open
    ├── BodyError            an origin body cannot be handled (undecodable coding, over the cap)
    └── EventRejected        a beacon is refused (``proxy.tracker.events``; carries the status)

Stages after ``forward`` catch everything and fail open; these types say *why* in logs and metrics.
"""

from __future__ import annotations

# The exit status of a command ended by Ctrl-C, as a shell reports one killed by SIGINT.
EXIT_INTERRUPTED = 128 + 2


class VernierError(Exception):
    """Base of every error Vernier raises on purpose."""


class ConfigError(VernierError):
    """A config or rules file is invalid.

    ``str(err)`` reads ``file:line:column $.key.path: what is wrong`` (1-based line and
    column, as editors and compilers print them).
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        path: str = "$",
        column: int | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        where = file or "<config>"
        if line is not None:
            where = f"{where}:{line}" + (f":{column}" if column is not None else "")
        super().__init__(f"{where} {path}: {message}")


class UsageError(VernierError):
    """A command-line flag or value is invalid."""


class StartupError(VernierError):
    """The process refuses to start because running would be unsafe or impossible."""


class StoreUnavailable(VernierError):
    """The store did not answer within its timeout, or its circuit breaker is open."""


class BodyError(VernierError):
    """An origin body cannot be decoded or re-encoded within Vernier's limits."""
