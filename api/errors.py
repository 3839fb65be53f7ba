"""Domain errors, each mapped to one HTTP status with a readable message."""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400

    def __init__(self, message: str, **context: object) -> None:
        super().__init__(message)
        self.message = message
        self.context = context


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    """Refused in the current state: invalid transition, duplicate rating, taken claim."""

    status_code = 409


class Invalid(DomainError):
    """Well-formed but unacceptable input (e.g. a resolution without text)."""

    status_code = 422


class Forbidden(DomainError):
    status_code = 403


class Busy(DomainError):
    """Waited too long for a shared resource; a retry may succeed."""

    status_code = 503
