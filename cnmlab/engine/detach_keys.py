"""Docker's detach keys: typed on an attached stdin, they end the attach and leave the process
running (`docker attach`, `docker run -it`, `docker exec -it`; default ctrl-p ctrl-q, changed by
`--detach-keys`, sent as the `detachKeys` query or an exec's `DetachKeys`).

As Docker's escape proxy does, bytes that begin the sequence are held back; when the next byte
does not continue it, they go on to the process with it."""

from __future__ import annotations

from ..errors import InvalidParameter

DEFAULT = "ctrl-p,ctrl-q"
# Docker's term.ASCII: ctrl-@ is 0, ctrl-a 1, ... ctrl-z 26, then ctrl-[ ctrl-\ ctrl-] ctrl-^ ctrl-_
CONTROLS = ["ctrl-@", *(f"ctrl-{c}" for c in "abcdefghijklmnopqrstuvwxyz"), "ctrl-[", "ctrl-\\", "ctrl-]",
            "ctrl-^", "ctrl-_"]


def parse(text: str | None) -> bytes:
    """`ctrl-p,ctrl-q`, `a,b`, `DEL`: the bytes to watch for, as Docker's term.ToBytes reads them."""
    text = text or DEFAULT
    out = bytearray()
    for key in text.split(","):
        if len(key) == 1:
            out.append(ord(key))
        elif key in CONTROLS:
            out.append(CONTROLS.index(key))
        elif key == "DEL":
            out.append(127)
        else:
            raise InvalidParameter(f"Invalid detach keys ({text}) provided")
    return bytes(out)


class EscapeProxy:
    """Feed it what the client typed; it says what goes on to the process, and whether the keys
    were typed (then the attach ends; the bytes after them are dropped)."""

    def __init__(self, keys: bytes):
        self.keys = keys
        self.held = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        out = bytearray()
        for byte in data:
            self.held += bytes([byte])
            if self.keys.startswith(self.held):
                if self.held == self.keys:
                    self.held = b""
                    return bytes(out), True
                continue
            out += self.held
            self.held = b""
        return bytes(out), False
