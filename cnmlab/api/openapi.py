"""The OpenAPI 3.1 document of the engine's API, generated from the routes and their types
(`GET /openapi.json`, `cnmlab api openapi`)."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from .. import __version__
from . import types

REF = "#/components/schemas/{name}"


def document(routes) -> dict[str, Any]:
    """The document for `routes` (the engine's router.routes, with every feature registered)."""
    bodies = sorted({r.body for r in routes if r.body is not None} | set(types.BODIES) | {types.Error},
                    key=lambda t: t.__name__)
    replies = list({r.reply for r in routes if r.reply is not None})
    reply_schemas, components = msgspec.json.schema_components(bodies + replies, ref_template=REF)
    reply_schema = dict(zip(replies, reply_schemas[len(bodies):]))
    paths: dict[str, dict] = {}
    for route in sorted(routes, key=lambda r: (r.template, r.method)):
        op: dict[str, Any] = {
            "operationId": route.handler.__name__,
            "responses": {
                str(route.status): {"description": "success" if route.status != 204 else "no content"},
                "default": {"description": "a refusal",
                            "content": {"application/json": {"schema": {"$ref": REF.format(name="Error")}}}},
            },
        }
        if route.summary:
            op["summary"] = route.summary
        params = re.findall(r"\{(\w+)\}", route.template)
        if params:
            op["parameters"] = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                                for p in params]
        if route.body is not None:
            op["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": {"$ref": REF.format(name=route.body.__name__)}}}}
        if route.reply is not None:
            op["responses"][str(route.status)]["content"] = {"application/json": {"schema": reply_schema[route.reply]}}
        if route.streaming:
            op["responses"][str(route.status)]["content"] = {"application/x-ndjson": {"schema": {"type": "object"}}}
        paths.setdefault(route.template, {})[route.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "cnmlab engine API", "version": __version__,
                 "description": "Docker-shaped JSON over the engine's Unix socket (see docs/api.md)."},
        "paths": paths,
        "components": {"schemas": components},
    }
