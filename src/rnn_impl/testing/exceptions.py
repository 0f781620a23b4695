"""The verifier's exceptions (torch-free)."""

from __future__ import annotations


class SubjectError(Exception):
    """The implementation or adapter named by the user cannot be loaded or used."""


class PropertyFailure(AssertionError):
    """A property does not hold; the message says for what, where and by how much.

    Attributes:
        measure: the error on the failing example (``max_abs``, ``eps_units``), where the
            property measures one; else None.
    """

    measure: object = None
