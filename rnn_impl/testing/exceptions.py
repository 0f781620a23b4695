"""The verifier's exceptions (torch-free)."""

from __future__ import annotations


class SubjectError(Exception):
    """The implementation or adapter named by the user cannot be loaded or used."""


class PropertyFailure(AssertionError):
    """A property does not hold; the message says for what, where and by how much."""
