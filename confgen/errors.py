"""Errors that reach the user as one line each, never as a traceback."""

from __future__ import annotations


class ConfgenError(Exception):
    """A problem with the user's input or environment.

    ``lines`` holds one message per problem, already prefixed with the file (and line or
    YAML path where known), e.g. ``bad.yaml:4: clients: -5 is less than the minimum of 1``.
    The CLI prints each line and exits with ``exit_code``.
    """

    exit_code = 2

    def __init__(self, *lines: str):
        super().__init__("\n".join(lines))
        self.lines = list(lines)
