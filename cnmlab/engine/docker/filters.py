"""Docker's `filters` query parameter: a JSON map of a name to values, matched as dockerd does."""

from __future__ import annotations

import json
import re

from ...errors import InvalidParameter


class Filters:
    def __init__(self, raw: str | None, known: tuple[str, ...]):
        try:
            data = json.loads(raw) if raw else {}
        except json.JSONDecodeError as exc:
            raise InvalidParameter(f"invalid filter: {exc}") from None
        if not isinstance(data, dict):
            raise InvalidParameter("invalid filter: filters must be a JSON object")
        # values come as ["a", "b"] or, from old clients, {"a": true, "b": true}
        self.args = {k: list(v) if isinstance(v, (list, dict)) else [str(v)] for k, v in data.items()}
        for name in self.args:
            if name not in known:
                raise InvalidParameter(f"invalid filter '{name}'")

    def __contains__(self, name: str) -> bool:
        return bool(self.args.get(name))

    def values(self, name: str) -> list[str]:
        return self.args.get(name, [])

    def match(self, name: str, source: str) -> bool:
        """Absent filter, or any value found in source as a regular expression (dockerd's Match)."""
        if name not in self:
            return True
        for value in self.values(name):
            try:
                if re.search(value, source):
                    return True
            except re.error:
                if value in source:
                    return True
        return False

    def exact(self, name: str, source: str) -> bool:
        return name not in self or source in self.values(name)

    def labels(self, labels: dict[str, str]) -> bool:
        """`label=KEY` or `label=KEY=VALUE`, every one must hold."""
        for want in self.values("label"):
            key, sep, value = want.partition("=")
            if key not in labels or (sep and labels[key] != value):
                return False
        return True
