"""schemathesis drives the engine from its own OpenAPI document, over the Unix socket.

Every lab route that takes a typed body, and every read that declares its reply, gets cases that
schemathesis generates from the document (valid ones and, by its own rules, broken ones). The
checks: no 500, a status the document lists, a JSON content type where it says JSON, and a reply
that fits its declared schema. Not checked: that every schema-valid body is accepted, since the
lab judges values the schema cannot (is the name free, is the subnet usable) and refuses them
with a 400 (docs/api.md).

The transport is docker-py's Unix-socket adapter for requests, mounted on a made-up host.
CNMLAB_LONG_TESTS=1 runs ten times as many cases.
"""

import os

import pytest
import requests
import schemathesis
from docker.transport import UnixHTTPAdapter
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (content_type_conformance, not_a_server_error, response_schema_conformance,
                                 status_code_conformance)

pytestmark = pytest.mark.kernel

EXAMPLES = 60 if os.environ.get("CNMLAB_LONG_TESTS") else 6
BASE = "http://engine"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# /plugins/run runs the argv it is given; the others stop the engine, wipe the lab, or stream forever
SKIP = {"/plugins/run", "/engine/stop", "/lab/reset", "/events"}
PARAMS = {"id": "st-net", "name": "host1", "ref": "no-such-plugin"}


@pytest.fixture(scope="module")
def st_lab(engine):
    engine.reset()
    engine.network_create("st-net", subnet="10.97.0.0/24")
    engine.run("st-c", network="st-net")
    session = requests.Session()
    session.mount(BASE, UnixHTTPAdapter("http+unix://" + engine.socket_path))
    yield engine, session
    engine.reset()


def lab_operations(doc: dict):
    """The lab's typed POST routes, and the reads that declare their reply."""
    for result in schemathesis.openapi.from_dict(doc).get_all_operations():
        op = result.ok()
        declared = "application/json" in op.definition.raw.get("responses", {}).get("200", {}).get("content", {})
        if op.path in SKIP:
            continue
        if (op.method.upper() == "POST" and "requestBody" in op.definition.raw) or (
                op.method.upper() == "GET" and declared):
            yield op


@pytest.mark.timeout(3600 if os.environ.get("CNMLAB_LONG_TESTS") else 300)
def test_schemathesis_finds_no_500_and_no_reply_off_its_schema(st_lab):
    lab, session = st_lab
    ops = list(lab_operations(lab.request("GET", "/openapi.json")))
    assert {"/networks/create", "/containers/create", "/networks", "/containers/{id}/json"} <= {op.path for op in ops}
    for op in ops:

        @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy())
        def fuzz(case):
            if case.path_parameters:  # objects that exist, so reads reach their replies
                case.path_parameters = {k: PARAMS.get(k, v) for k, v in case.path_parameters.items()}
                if op.path.startswith("/containers/"):
                    case.path_parameters["id"] = "st-c"
            case.call_and_validate(base_url=BASE, session=session, checks=CHECKS)

        fuzz()
    assert lab.running()
