"""API fuzzing from the engine's own OpenAPI document: bodies generated from each route's schema
(and plain JSON of any shape) never get a 500. A 500 would be a cnmlab bug; bad input is a 4xx.
Every reply, a success or a refusal, fits the shape the document declares for it.

CNMLAB_LONG_TESTS=1 runs ten times as many examples.
"""

import json
import os

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_api_edge import post, raw_request

pytestmark = pytest.mark.kernel

EXAMPLES = 200 if os.environ.get("CNMLAB_LONG_TESTS") else 15
SKIP = {"/plugins/run"}  # it runs the given argv: fuzzing it would run random commands in the lab world
PARAMS = {"id": "fz-net", "name": "fz-host", "ref": "no-such-plugin"}

ANY_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                    max_size=4), max_leaves=12)


@pytest.fixture(scope="module")
def fuzz_lab(engine):
    engine.reset()
    engine.network_create("fz-net", subnet="10.99.0.0/24")
    engine.run("fz-c", network="fz-net")
    yield engine
    engine.reset()


def from_schema(schema: dict, components: dict) -> st.SearchStrategy:
    """Values for the JSON Schema the document gives (the subset msgspec writes): mostly valid
    ones, with names and subnets near the real rules, so requests reach the lab's own checks."""
    if "$ref" in schema:
        return st.deferred(lambda: from_schema(components[schema["$ref"].rsplit("/", 1)[-1]], components))
    if "anyOf" in schema:
        return st.one_of([from_schema(s, components) for s in schema["anyOf"]])
    kind = schema.get("type")
    if kind == "object" and "properties" in schema:
        required = set(schema.get("required", []))
        props = {k: from_schema(v, components) for k, v in schema["properties"].items()}
        return st.fixed_dictionaries({k: v for k, v in props.items() if k in required},
                                     optional={k: v for k, v in props.items() if k not in required})
    if kind == "object":
        values = from_schema(schema.get("additionalProperties") or {"type": "string"}, components)
        return st.dictionaries(st.text(max_size=10), values, max_size=3)
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {}), components), max_size=3)
    return {"string": st.one_of(st.text(max_size=12), st.sampled_from(NEAR)), "integer": st.integers(-5, 70000),
            "number": st.floats(-1, 100, allow_nan=False), "boolean": st.booleans(), "null": st.none()}.get(
        kind, ANY_JSON)


# strings near the rules: names, subnets, addresses and drivers the lab must judge, not crash on
NEAR = ["fz-net", "fz-c", "fz-host", "host1", "bridge", "x", "a b", "nl\n", "../../x", "10.99.0.0/24", "10.98.0.0/24",
        "10.98.0.5/24", "127.0.0.0/8", "224.0.0.0/4", "10.98.0.0/32", "10.99.0.77", "10.98.0.0", "::1/128",
        "8080:80", "80", "tcp", "udp", "icmp", "vip", "dnsrr", "default", "null", "host", "none", ""]


def typed_routes(doc: dict) -> list[tuple[str, str, dict]]:
    out = []
    for path, ops in sorted(doc["paths"].items()):
        for method, op in ops.items():
            if "requestBody" in op and method == "post" and path not in SKIP:
                ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                out.append((path, method, {"$ref": ref}))
    return out


@pytest.mark.timeout(3600 if os.environ.get("CNMLAB_LONG_TESTS") else 300)
def test_no_generated_body_gets_a_500(fuzz_lab):
    doc = fuzz_lab.request("GET", "/openapi.json")
    routes = typed_routes(doc)
    assert len(routes) >= 10
    for path, _method, schema in routes:
        url = path.format(**PARAMS)

        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(body=from_schema(schema, doc["components"]["schemas"]) | ANY_JSON)
        def fuzz(body):
            status, reply = post(fuzz_lab, url, json.dumps(body).encode())
            assert status < 500, (url, body, reply)
            if status >= 400:
                assert isinstance(reply["message"], str) and reply["message"], (url, body, reply)
            assert_fits(doc, path, "post", status, reply)

        fuzz()
    assert fuzz_lab.running()


def reply_schema(doc: dict, path: str, method: str, status: int) -> dict | None:
    responses = doc["paths"][path][method]["responses"]
    found = responses.get(str(status)) if status < 400 else responses["default"]
    content = (found or {}).get("content", {}).get("application/json")
    return content["schema"] if content else None


def assert_fits(doc: dict, path: str, method: str, status: int, reply) -> None:
    """The reply is what the document says this route answers (with the document's own components)."""
    schema = reply_schema(doc, path, method, status)
    if schema is not None and reply is not None:
        jsonschema.validate(reply, {**schema, "components": doc["components"]})


def test_every_read_fits_its_declared_reply(fuzz_lab):
    """ps, ls, inspect and status answer the shapes the document declares; a route that declares
    none is not a lab route (Docker's, streams, plain text)."""
    doc = fuzz_lab.request("GET", "/openapi.json")
    declared = [(path, ops["get"]) for path, ops in sorted(doc["paths"].items())
                if "get" in ops and reply_schema(doc, path, "get", 200)]
    assert {"/networks", "/networks/{id}", "/containers/json", "/containers/{id}/json", "/hosts", "/hosts/{name}",
            "/engine/status"} <= {path for path, _ in declared}
    params = {**PARAMS, "id": "fz-net", "name": "host1"}
    for path, _op in declared:
        url = path.format(**{**params, "id": "fz-c" if path.startswith("/containers") else "fz-net"})
        reply = fuzz_lab.request("GET", url)
        assert reply, url
        assert_fits(doc, path, "get", 200, reply)
    # a refusal fits the Error shape
    status, raw = raw_request(fuzz_lab, b"GET /networks/no-such-net HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 404
    assert_fits(doc, "/networks/{id}", "get", status, json.loads(raw))
    # and the schema is strict enough to catch a misfit
    with pytest.raises(jsonschema.ValidationError):
        assert_fits(doc, "/networks/{id}", "get", 200, {**fuzz_lab.request("GET", "/networks/fz-net"), "Id": 7})
