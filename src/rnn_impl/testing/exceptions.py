"""The verifier's exceptions (torch-free)."""

from __future__ import annotations

VALUES = "values"
"""A failure in which results differ in value (not bit-identical, or beyond a tolerance)."""
FORM = "form"
"""A failure in which results differ in form: type, shape, dtype, device, names."""
RAISED = "raised"
"""A failure in which the implementation raised where torch's module returns."""
ERRORS = "errors"
"""A failure in which an invalid call ends otherwise than on torch's module."""
BEHAVIOUR = "behaviour"
"""Any other failure: the RNG consumed, an input written to, a law of the module broken."""


class ImplementationError(Exception):
    """The implementation or adapter named by the user cannot be loaded or used."""


class PropertyFailure(AssertionError):
    """A property does not hold; the message says for what, where and by how much.

    Attributes:
        differs: what differs, one of :data:`VALUES`, :data:`FORM`, :data:`RAISED`,
            :data:`ERRORS` or :data:`BEHAVIOUR`.
        measure: the error on the failing example (``max_abs``, ``eps_units``), where the
            property measures one; else None.
    """

    def __init__(self, message: str, differs: str = BEHAVIOUR, measure: object = None) -> None:
        super().__init__(message)
        self.differs = differs
        self.measure = measure
