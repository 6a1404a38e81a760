"""Validation of playbooks beyond the pure checks: argspecs from ansible-doc, syntax-check, lint.

Runs processes, so it lives outside the pure ``playbook`` package.
"""

from validation.validator import PlaybookValidator, ValidationReport

__all__ = ["PlaybookValidator", "ValidationReport"]
