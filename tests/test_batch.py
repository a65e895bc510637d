"""A whole topology in one request (POST /lab/apply) and its teardown (DELETE /lab/apply)."""

import pytest
from conftest import in_world, ip_of, ping

from cnmlab.errors import Conflict, InvalidParameter, NotFound

pytestmark = pytest.mark.kernel


def topology(n=3):
    nets = [{"Name": "apply-a", "Subnet": "10.77.0.0/24"}, {"Name": "apply-b"}]
    ctrs = [{"Name": f"ap{i}", "Network": "apply-a"} for i in range(n)] + [{"Name": "bp0", "Network": "apply-b"}]
    return nets, ctrs


def test_apply_builds_a_working_topology_and_unapply_removes_it(lab):
    nets, ctrs = topology()
    assert lab.apply(nets, ctrs) == {"Networks": 2, "Containers": 4}
    assert ip_of(lab, "ap0", "apply-a") == "10.77.0.2"
    assert ping(lab, "ap0", ip_of(lab, "ap2", "apply-a"))
    assert not ping(lab, "ap0", ip_of(lab, "bp0", "apply-b"))  # different bridges: isolated
    # the store has it: inspect answers as for `run`
    assert lab.inspect("ap1")["NetworkSettings"]["Networks"]["apply-a"]["IPAddress"] == "10.77.0.3"
    assert lab.unapply(nets, ctrs) == {"Networks": 2, "Containers": 4}
    assert lab.containers() == []
    assert {n["Name"] for n in lab.networks()} == {"bridge", "host", "none"}
    links = in_world(lab, "host1", "ip", "-o", "link", "show", "type", "veth", check=True).stdout
    assert [ln for ln in links.splitlines() if "eth0@" not in ln] == []  # only the underlay port is left


def test_a_failing_item_leaves_nothing_behind(lab):
    lab.run("taken", network="bridge")
    nets, ctrs = topology()
    with pytest.raises(Conflict, match=r"^container taken: .*already in use.*\(nothing was applied\)$"):
        lab.apply(nets, ctrs + [{"Name": "taken", "Network": "apply-a"}])
    assert [c["Names"][0] for c in lab.containers()] == ["/taken"]
    assert {n["Name"] for n in lab.networks()} == {"bridge", "host", "none"}
    with pytest.raises(NotFound):
        lab.inspect("ap0")


@pytest.mark.parametrize("body, message", [
    ({"Networks": {"Name": "x"}}, "^Networks: expected an array or null, got an object$"),
    ({"Containers": [{"Nme": "x"}]}, r"^Containers\[0\]: unknown field Nme$"),
    ({"Containers": [{"Name": "x"}, {}]}, r"^Containers\[1\].Name is required$"),
    ({"Containers": [{"Name": "x", "Colour": "red"}]}, r"^Containers\[0\]: unknown field Colour$"),
    ({"Containers": [{"Name": "x", "Aliases": "abc"}]}, r"^Containers\[0\].Aliases: expected an array or null"),
    ([1, 2], "^invalid request body: expected an object, got an array$"),
])
def test_bad_bodies_get_one_line_errors(lab, body, message):
    with pytest.raises(InvalidParameter, match=message):
        lab.request("POST", "/lab/apply", body)
    assert lab.containers() == []


def test_unapply_skips_what_is_not_there(lab):
    assert lab.unapply([{"Name": "nope"}], [{"Name": "nobody"}]) == {"Networks": 0, "Containers": 0}
