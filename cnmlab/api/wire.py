"""Bytes to types and back, with the limits and the error words of the API's edge.

A body that is not what its type says is the client's mistake: it becomes one `InvalidParameter`
(HTTP 400) that names the field and what was expected, never a Python exception text.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

from ..errors import CnmError, InvalidParameter

T = TypeVar("T")

MAX_BODY = 1 << 20  # bytes: the largest real body (a 300-container topology) is about 60 KiB
MAX_DEPTH = 32  # nesting of JSON objects and arrays: Docker's deepest body needs 6


class TooLarge(CnmError):
    status = 413


_encoder = msgspec.json.Encoder()
_decoders: dict[Any, msgspec.json.Decoder] = {}
_WHERE = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_TYPE = re.compile(r"`([\w |]+)`")
_WORDS = {"str": "a string", "int": "an integer", "float": "a number", "bool": "true or false",
          "object": "an object", "array": "an array", "null": "null", "number": "a number"}


def encode(value: Any) -> bytes:
    return _encoder.encode(value)


def decode(raw: bytes, type: Any = Any) -> Any:  # noqa: A002 - msgspec's name
    """Decode a request body into `type`; an empty body is an empty object."""
    if len(raw) > MAX_BODY:
        raise TooLarge(f"the request body is {len(raw)} bytes; the limit is {MAX_BODY}")
    if not raw.strip():
        if type is Any:
            return None
        raw = b"{}"
    if type is Any:  # a typed body cannot nest deeper than its type: msgspec stops at the first misfit
        check_depth(raw)
    decoder = _decoders.get(type)
    if decoder is None:
        decoder = _decoders[type] = msgspec.json.Decoder(type)
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise InvalidParameter(explain(str(exc))) from None
    except msgspec.DecodeError as exc:
        raise InvalidParameter(f"invalid JSON body: {exc}") from None
    except RecursionError:
        raise InvalidParameter(f"the request body nests deeper than {MAX_DEPTH} levels") from None


def convert(value: Any, type: type[T]) -> T:  # noqa: A002
    """Already-parsed JSON (a dict from YAML, say) into `type`, with the same error words."""
    try:
        return msgspec.convert(value, type)
    except msgspec.ValidationError as exc:
        raise InvalidParameter(explain(str(exc))) from None


def check_reply(value: Any, type: Any) -> None:  # noqa: A002
    """A reply that does not fit its route's declared type is a cnmlab bug: say where it misfits."""
    try:
        msgspec.convert(value, type)
    except msgspec.ValidationError as exc:
        raise ReplyMisfit(f"the reply does not fit its declared type {_name(type)}: {explain(str(exc))}") from None


class ReplyMisfit(CnmError):
    status = 500


def _name(type: Any) -> str:  # noqa: A002
    return getattr(type, "__name__", None) or str(type).replace("cnmlab.api.types.", "")


def check_depth(raw: bytes) -> None:
    """Refuse JSON nested deeper than MAX_DEPTH before any parser recurses into it. Counting
    brackets (outside strings) is enough: a body that is not JSON fails to decode anyway."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > MAX_DEPTH:
                raise InvalidParameter(f"the request body nests deeper than {MAX_DEPTH} levels")
        elif byte in (0x5D, 0x7D):
            depth -= 1


def explain(message: str) -> str:
    """msgspec's "Expected `str`, got `int` - at `$.IPAM.Config[0].Subnet`" in the API's words:
    "IPAM.Config[0].Subnet: expected a string, got an integer"."""
    where = _WHERE.search(message)
    path = where["path"].lstrip(".") if where else ""
    text = message[:where.start()] if where else message
    missing = re.match(r"Object missing required field `(\w+)`", text)
    if missing:
        return f"{path + '.' if path else ''}{missing[1]} is required"
    unknown = re.match(r"Object contains unknown field `(\w+)`", text)
    if unknown:
        return f"{path + ': ' if path else ''}unknown field {unknown[1]}"
    text = _TYPE.sub(lambda m: " or ".join(_WORDS.get(t, t) for t in m[1].split(" | ")), text)
    text = text[:1].lower() + text[1:]
    return f"{path}: {text}" if path else f"invalid request body: {text}"
