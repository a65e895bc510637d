"""The kernel thread (engine/kernel_thread.py): a change parked on a plugin holds up only the work
that names its objects; reads never wait for a change.

The scheduler's rules are tested on their own with stand-in work (no root): a "plugin call" is
an exchange that waits for an Event the test sets. The last test is the engine's: reads answer
in the middle of a long topology build instead of after it.
"""

import threading

import pytest

from cnmlab.engine.kernel_thread import EVERYTHING, READ, KernelThread

SETTLE = 10  # seconds a test waits for something that must happen; never reached when all is well


@pytest.fixture
def kt():
    thread = KernelThread(resolve=set)
    yield thread
    thread.shutdown()


def parked_change(kt, holds, concerns=()):
    """Submit a change that calls a plugin and does not get its answer until `answer` is set."""
    answer, asked, order = threading.Event(), threading.Event(), []

    def exchange():
        asked.set()
        assert answer.wait(SETTLE)
        return "plugin's answer"

    def change():
        order.append("before the plugin")
        order.append(kt.off_thread("plug", exchange, concerns))
        return order

    future = kt.submit(change, holds=holds)
    assert asked.wait(SETTLE)
    return future, answer


def test_unrelated_work_goes_on_while_a_change_waits_on_a_plugin(kt):
    future, answer = parked_change(kt, frozenset({"net-a"}))
    assert kt.submit(lambda: "other change", holds=frozenset({"net-b"})).result(SETTLE) == "other change"
    assert kt.submit(lambda: "a read", holds=READ).result(SETTLE) == "a read"
    assert not future.done()
    answer.set()
    assert future.result(SETTLE) == ["before the plugin", "plugin's answer"]


def test_work_on_a_held_object_waits_and_keeps_its_order(kt):
    future, answer = parked_change(kt, frozenset({"net-a"}), concerns=("ctr-1",))
    ran = []
    same = kt.submit(lambda: ran.append("same network"), holds=frozenset({"net-a"}))
    concerned = kt.submit(lambda: ran.append("the container the plugin call is about"), holds=frozenset({"ctr-1"}))
    free = kt.submit(lambda: ran.append("free"), holds=frozenset({"net-d"}))
    anything = kt.submit(lambda: ran.append("may touch anything"), holds=EVERYTHING)
    behind = kt.submit(lambda: ran.append("behind the one that waits"), holds=frozenset({"net-c"}))
    free.result(SETTLE)
    assert ran == ["free"]
    assert not (same.done() or concerned.done() or anything.done() or behind.done())
    answer.set()
    for f in (future, same, concerned, anything, behind):
        f.result(SETTLE)
    assert ran == ["free", "same network", "the container the plugin call is about", "may touch anything",
                   "behind the one that waits"]


def test_a_change_that_may_touch_anything_waits_for_every_parked_one(kt):
    future, answer = parked_change(kt, frozenset({"net-a"}))
    reset = kt.submit(lambda: "reset", holds=EVERYTHING)
    later = kt.submit(lambda: "later", holds=frozenset({"net-z"}))  # behind the reset: it may touch net-z
    read = kt.submit(lambda: "read", holds=READ)
    assert read.result(SETTLE) == "read"
    assert not reset.done() and not later.done()
    answer.set()
    assert (reset.result(SETTLE), later.result(SETTLE)) == ("reset", "later")


def test_reads_run_between_the_steps_of_a_long_change(kt):
    step, answered = threading.Event(), []

    def long_change():
        step.wait(SETTLE)  # a read has been submitted meanwhile
        kt.serve_reads()  # the change emitted an event: a step is done
        return list(answered)

    change = kt.submit(long_change, holds=frozenset({"x"}), reads_between=True)
    read = kt.submit(lambda: answered.append("read") or "read", holds=READ)
    step.set()
    assert change.result(SETTLE) == ["read"]
    assert read.result(SETTLE) == "read"
    # the engine's own follow-up work is seen whole: a read queued behind it waits for it
    step.clear()
    answered.clear()
    follow_up = kt.submit(long_change, holds=EVERYTHING)
    read = kt.submit(lambda: answered.append("read") or "read", holds=READ)
    step.set()
    assert follow_up.result(SETTLE) == []
    assert read.result(SETTLE) == "read"


def test_a_change_queued_while_another_served_reads_runs_next(kt):
    step = threading.Event()

    def first():
        step.wait(SETTLE)
        kt.serve_reads()  # takes the queue in, the second change with it
        return "first"

    one = kt.submit(first, holds=frozenset({"a"}), reads_between=True)
    two = kt.submit(lambda: "second", holds=frozenset({"b"}))
    step.set()
    assert (one.result(SETTLE), two.result(SETTLE)) == ("first", "second")


def test_a_plugin_call_off_the_kernel_thread_runs_where_it_is(kt):
    assert kt.off_thread("plug", lambda: threading.current_thread().name) == threading.current_thread().name


@pytest.mark.kernel
def test_reads_answer_in_the_middle_of_a_long_build(lab):
    """`ps` during a topology build answers with part of it: it waited one step, not the whole build."""
    names = [f"slow-{i}" for i in range(16)]
    done = []
    build = threading.Thread(target=lambda: done.append(lab.apply(
        networks=[{"Name": "slow-net", "Subnet": "10.73.0.0/24"}],
        containers=[{"Name": n, "Network": "slow-net"} for n in names])))
    build.start()
    seen = set()
    while build.is_alive():
        seen.add(sum(c["Names"][0].lstrip("/") in names for c in lab.containers()))
    build.join()
    assert done and len(lab.containers()) >= len(names)
    assert seen - {0, len(names)}, f"ps only ever saw {sorted(seen)} of the build's {len(names)} containers"
    lab.unapply(networks=[{"Name": "slow-net"}], containers=[{"Name": n} for n in names])


def test_a_body_names_the_objects_it_touches():
    from cnmlab.api import types

    assert set(types.refs(types.ContainerCreate.of(network=["net-a", "net-b"], ports=["8080:80"]))) == {"net-a", "net-b"}
    assert types.refs(types.ContainerCreate.of()) == []  # the default bridge, a random name: nothing held
    assert types.refs(types.NetworkCreate.of("n1", driver="plug")) == ["n1"]
    assert types.refs(types.NetworkConnect(container="c1")) == ["c1"]
    topology = types.Topology(networks=[types.TopologyNetwork(name="tn")],
                              containers=[types.TopologyContainer(name="tc", network=["tn", "x"])])
    assert set(types.refs(topology)) == {"tn", "tc", "x"}
