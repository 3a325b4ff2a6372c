"""The command line's commands, one module each; `app.__main__` wires them into one parser.

Every command returns an exit status. User errors raise `CLIError`, which `main` prints as one
sentence (no traceback) and turns into its exit status; progress goes to stderr only on a terminal.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    Subcommands = argparse._SubParsersAction
Command = Callable[[argparse.Namespace], int]


class CLIError(Exception):
    """A bad input or an unusable environment; the message says what to do, in one sentence."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


class Progress:
    """One self-overwriting status line on stderr, shown only when stderr is a terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self.enabled = self._stream.isatty()
        self._started = time.monotonic()
        self._shown = False

    def step(self, message: str) -> None:
        if not self.enabled:
            return
        elapsed = time.monotonic() - self._started
        self._stream.write(f"\r\x1b[2K{message} … ({elapsed:.1f}s)")
        self._stream.flush()
        self._shown = True

    def clear(self) -> None:
        if self._shown:
            self._stream.write("\r\x1b[2K")
            self._stream.flush()
            self._shown = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.clear()
