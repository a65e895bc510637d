"""A container's life cycle and streams on the API: start, stop, kill, restart, wait, logs,
attach, resize, and exec create/start/inspect/resize.

Streams are shaped as Docker's: without a TTY each chunk is framed with an 8-byte header
(stream 0 stdin, 1 stdout, 2 stderr; three zero bytes; the length, big-endian), with a TTY the
bytes go raw. attach and exec start hijack the connection when the client asks for
`Upgrade: tcp` (101, then raw bytes both ways). These handlers run on HTTP threads and hand any
change of the lab to the kernel thread.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import struct
import threading

from ..api import types
from ..container import parse_signal
from ..errors import InvalidParameter
from ..execs import Execs
from ..logs import Record, parse_time
from . import detach_keys
from .kernel_thread import READ
from .router import Request, router

RAW = "application/vnd.docker.raw-stream"
MULTIPLEXED = "application/vnd.docker.multiplexed-stream"
STREAM_IDS = {"stdin": 0, "stdout": 1, "stderr": 2}
KILL_WAIT = 10.0  # s: how long `kill` (SIGKILL) waits for the exit, as dockerd's Kill


def attach(engine) -> None:
    engine.extensions.provide(Execs(engine.controller))


def frame(stream: str, data: bytes, tty: bool) -> bytes:
    return data if tty else struct.pack(">BxxxL", STREAM_IDS[stream], len(data)) + data


def _container(req: Request):
    ctl = req.engine.controller
    return ctl, req.engine.call(ctl.container, req.params["id"], holds=READ)  # a look-up: waits for no change


def _seconds(req: Request, name: str) -> float | None:
    text = req.query.get(name)
    if text in (None, ""):
        return None
    try:
        return float(text)
    except ValueError:
        raise InvalidParameter(f"invalid value for {name}: {text} (seconds)") from None


# -- life cycle --------------------------------------------------------------------------------
@router.route("POST", "/containers/{id}/start", status=204)
def start(req: Request):
    req.engine.controller.start_container(req.params["id"])


@router.route("POST", "/containers/{id}/stop", kernel=False, status=204)
def stop(req: Request):
    ctl, c = _container(req)
    ctl.stop_container(c.id, _seconds(req, "t"))


@router.route("POST", "/containers/{id}/restart", kernel=False, status=204)
def restart(req: Request):
    ctl, c = _container(req)
    ctl.restart_container(c.id, _seconds(req, "t"))


@router.route("POST", "/containers/{id}/kill", kernel=False, status=204)
def kill(req: Request):
    """As dockerd's: SIGKILL is answered once the container has exited (its exit is handled on
    the kernel thread, so this waits on the caller's)."""
    ctl, c = _container(req)
    rt = ctl.runtime(c.id)
    seen, sig = rt.exits, req.query.get("signal") or "SIGKILL"
    req.engine.call(ctl.kill_container, c.id, sig, holds=c.holds())
    if parse_signal(sig) == signal.SIGKILL:
        rt.wait_for(lambda: rt.exits > seen or rt.removed or not c.running, KILL_WAIT)


@router.route("POST", "/containers/{id}/wait", kernel=False, streaming=True)
def wait(req: Request):
    """The head goes out as soon as the waiter counts, so `docker run` may start the container."""
    ctl, c = _container(req)
    condition = req.query.get("condition") or "not-running"
    code = ctl.wait_container(c.id, condition, ready=lambda: req.start_stream("application/json"))
    req.stream(json.dumps({"StatusCode": code, "Error": None}).encode() + b"\n")


@router.route("POST", "/containers/{id}/resize", kernel=False)
def resize(req: Request):
    ctl, c = _container(req)
    proc = ctl.runtime(c.id).process
    if proc is not None:
        proc.resize(*_size(req))
    return None


def _size(req: Request) -> tuple[int, int]:
    try:
        return int(req.query.get("h") or 0), int(req.query.get("w") or 0)
    except ValueError:
        raise InvalidParameter("h and w must be numbers (rows and columns)") from None


# -- logs and attach --------------------------------------------------------------------------
@router.route("GET", "/containers/{id}/logs", kernel=False, streaming=True)
def logs(req: Request):
    ctl, c = _container(req)
    streams = {s for s in ("stdout", "stderr") if req.flag(s)}
    if not streams:
        raise InvalidParameter("Bad parameters: you must choose at least one stream")
    tail_text = req.query.get("tail") or "all"
    if tail_text != "all" and not tail_text.lstrip("-").isdigit():
        raise InvalidParameter(f"invalid value for tail: {tail_text} (a number or all)")
    tail = None if tail_text == "all" or int(tail_text) < 0 else int(tail_text)
    since = parse_time(req.query["since"]) if req.query.get("since") else 0
    until = parse_time(req.query["until"]) if req.query.get("until") else 0
    rt = ctl.runtime(c.id)
    stamps = req.flag("timestamps")
    req.start_stream(RAW if c.tty else MULTIPLEXED)
    if req.flag("follow"):
        records = rt.log.follow(lambda: c.running and c.id in ctl.containers, tail=tail, since=since, until=until)
    else:
        records = iter(rt.log.records(tail=tail, since=since, until=until))
    for record in records:
        if record.stream in streams:
            req.stream(frame(record.stream, _stamped(record, stamps), c.tty))


def _stamped(record: Record, stamps: bool) -> bytes:
    return (record.timestamp.encode() + b" " + record.data) if stamps else record.data


@router.route("POST", "/containers/{id}/attach", kernel=False, streaming=True)
def attach_(req: Request):
    ctl, c = _container(req)
    rt = ctl.runtime(c.id)
    wanted = {s for s in ("stdout", "stderr") if req.flag(s)}
    keys = detach_keys.parse(req.query.get("detachKeys"))
    q = rt.output.subscribe()  # before the head: nothing the container prints afterwards is lost
    try:
        req.start_stream(RAW if c.tty else MULTIPLEXED, upgrade=_upgrade(req))
        if req.flag("logs"):
            for record in rt.log.records():
                if record.stream in wanted:
                    req.stream(frame(record.stream, record.data, c.tty))
        if req.flag("stdin"):  # the detach keys end this attach: its output loop gets its end
            _feed(req, rt.write_stdin, rt.close_stdin if c.stdin_once and not c.tty else lambda: q.put(None),
                  keys, lambda: q.put(None))
        if not req.flag("stream"):
            return
        while (item := q.get()) is not None:
            stream, data = item
            if stream in wanted:
                req.stream(frame(stream, data, c.tty))
    finally:
        rt.output.unsubscribe(q)
        _close_write(req)


def _upgrade(req: Request) -> bool:
    return req.headers.get("upgrade", "").lower() == "tcp"


def _feed(req: Request, write, close, keys: bytes, detach) -> None:
    """Copy what the client sends to the process's stdin, in a thread; at its end `close()`: as in
    Docker, that closes the process's stdin without a TTY (StdinOnce, an exec's), else it ends the
    stream and the process runs on. The detach keys call `detach()`: stdin stays open."""
    def run() -> None:
        proxy = detach_keys.EscapeProxy(keys)
        with contextlib.suppress(OSError, ValueError):
            while data := req.rfile.read1(65536):
                data, detached = proxy.feed(data)
                if data:
                    write(data)
                if detached:
                    detach()
                    return
        close()

    threading.Thread(target=run, name="stdin", daemon=True).start()


def _close_write(req: Request) -> None:
    """Half-close: the client reads to the end of the output and still may close stdin itself."""
    with contextlib.suppress(OSError):
        req.socket.shutdown(socket.SHUT_WR)


# -- exec ----------------------------------------------------------------------------------------
@router.route("POST", "/containers/{id}/exec", status=201, body=types.ExecCreate)
def exec_create(req: Request):
    spec: types.ExecCreate = req.body or types.ExecCreate()
    detach_keys.parse(spec.detach_keys)  # a bad sequence is a 400 now, as Docker's
    ex = req.engine.extensions.get(Execs).create(req.params["id"], spec.argv, tty=spec.tty, stdin=spec.attach_stdin,
                                 stdout=spec.attach_stdout, stderr=spec.attach_stderr, env=list(spec.env or []),
                                 user=spec.user, privileged=spec.privileged, detach_keys=spec.detach_keys,
                                 working_dir=spec.working_dir)
    return {"Id": ex.id}


@router.route("POST", "/exec/{id}/start", kernel=False, streaming=True, body=types.ExecStart)
def exec_start(req: Request):
    execs = req.engine.extensions.get(Execs)
    ex = execs.get(req.params["id"])
    spec: types.ExecStart = req.body or types.ExecStart()
    req.engine.call(execs.start, ex.id, spec.detach, holds=[ex.container_id])
    if spec.detach:
        req.start_stream("application/json")
        return
    req.start_stream(RAW if ex.tty else MULTIPLEXED, upgrade=_upgrade(req))
    if ex.stdin:
        _feed(req, ex.process.write, ex.process.close_stdin if not ex.tty else lambda: ex.output.put(None),
              detach_keys.parse(ex.detach_keys), lambda: ex.output.put(None))
    wanted = {s for s, on in (("stdout", ex.stdout), ("stderr", ex.stderr)) if on}
    while (item := ex.output.get()) is not None:
        stream, data = item
        if stream in wanted:
            req.stream(frame(stream, data, ex.tty))
    _close_write(req)


@router.route("GET", "/exec/{id}/json", kernel=False)
def exec_inspect(req: Request):
    return req.engine.extensions.get(Execs).get(req.params["id"]).inspect()


@router.route("POST", "/exec/{id}/resize", kernel=False)
def exec_resize(req: Request):
    ex = req.engine.extensions.get(Execs).get(req.params["id"])
    if ex.process is not None:
        ex.process.resize(*_size(req))
    return None
