"""Errors the core raises. Each maps to an HTTP status, as the Docker Engine API does."""


class CnmError(Exception):
    """A one-line error for the user. `status` is the HTTP status the engine answers with."""

    status = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidParameter(CnmError):
    status = 400


class Forbidden(CnmError):
    status = 403


class NotFound(CnmError):
    status = 404


class Conflict(CnmError):
    status = 409


class KernelUnsupported(CnmError):
    """The kernel of this machine lacks a feature the request needs."""

    status = 501


class EngineUnavailable(CnmError):
    status = 503


_BY_STATUS = {cls.status: cls for cls in (InvalidParameter, Forbidden, NotFound, Conflict, KernelUnsupported, EngineUnavailable)}


def from_status(status: int, message: str) -> CnmError:
    return _BY_STATUS.get(status, CnmError)(message)
