"""The command line's one error type: a message printed as one line, and an exit status."""

from __future__ import annotations


class CliError(Exception):
    """A user-facing error: printed as one line, exit code `code`."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code
