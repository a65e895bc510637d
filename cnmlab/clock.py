"""Docker's timestamps: UTC in RFC 3339 with a Z (Created, StartedAt, FinishedAt)."""

import datetime


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
