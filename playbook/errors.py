"""Errors of the pure playbook package.

``PlaybookError`` subclasses ``ValueError`` so callers that only know "bad value"
still catch it; its message is written for a model (or a person) to act on:
it says what is wrong, where, and what a valid reply looks like.
"""

from __future__ import annotations


class PlaybookError(ValueError):
    """The text or data is not a usable Ansible playbook; ``str(exc)`` says why and how to fix it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
