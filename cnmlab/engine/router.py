"""The engine serves the one route table declared in api/router.py (features register there)."""

from ..api.router import Reply, Request, Route, Router, router

__all__ = ["Reply", "Request", "Route", "Router", "router"]
