"""Keep the local stack's services up, as systemd or supervisord would.

A service that exits while the stack runs is restarted after a back-off that
doubles from one restart to the next (1 s, 2 s, 4 s ... capped). A service with a
liveness probe that keeps failing (alive but hung, as Kubernetes would see it) is
killed and restarted the same way. One that keeps crashing (`max_crashes` exits
within `window` seconds) is left stopped, with a message naming its log, while the
others keep running. Ctrl-C or SIGTERM stops
everything at once: a restart waiting in back-off does not delay the stop.

The supervisor writes the state of every service to a JSON file after each
change; `creditops status` prints it, and the supervisor serves it as Prometheus
metrics of its own (services up, restarts), which outlive any one service.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .settings import PROJECT_ROOT

PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


def status_file(log_dir: Path) -> Path:
    """Where the supervisor keeps the state of its services."""
    return log_dir / "supervisor.json"


@dataclass(frozen=True)
class RestartPolicy:
    first_delay: float = 1.0
    max_delay: float = 30.0
    max_crashes: int = 5  # within `window` seconds: the service is left stopped
    window: float = 120.0

    def delay(self, crashes: int) -> float:
        """Seconds to wait before the restart that follows the `crashes`-th recent exit."""
        return min(self.first_delay * 2 ** (crashes - 1), self.max_delay)


@dataclass(frozen=True)
class Liveness:
    """A liveness probe: tells a hung service (running, doing nothing) from a working one."""

    probe: Callable[[], bool | None]  # True: working, False: not, None: cannot tell now
    what: str  # what the probe checks, for the restart reason
    interval: float = 10.0
    grace: float = 90.0  # seconds after a start before the first probe
    failures: int = 3  # consecutive failed probes before the service is killed


def http_answers(url: str, timeout: float = 5) -> bool:
    """Any HTTP answer, even an error status: the server is alive (readiness is not asked)."""
    import httpx

    try:
        httpx.get(url, timeout=timeout)
    except httpx.HTTPError:
        return False
    return True


def describe_exit(code: int) -> str:
    """`-9` as "killed by SIGKILL", `1` as "exit code 1"."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


@dataclass(eq=False)
class Service:
    """A long-running child process, in a session of its own, and its supervision record."""

    name: str
    command: list[str]
    url: str
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None  # run as this system user (the database, when started as root)
    cwd: Path = PROJECT_ROOT
    stop_signal: int = signal.SIGTERM
    stop_tier: int = 1  # lower tiers stop first: job runners, then servers, then the database
    liveness: Liveness | None = None
    process: subprocess.Popen | None = None
    state: str = "stopped"  # running | backoff | failed | stopped
    restarts: int = 0
    up_since: datetime | None = None
    last_exit: str | None = None
    last_exit_at: datetime | None = None
    next_start: float = 0.0  # monotonic time of the restart in back-off
    recent_exits: deque = field(default_factory=deque)  # monotonic times
    known_pids: set[int] = field(default_factory=set)  # its processes, seen while it ran
    started: float = 0.0  # monotonic time of the last start
    last_probe: float = 0.0
    failed_probes: int = 0
    hung: str | None = None  # why the supervisor is killing it

    def start(self, log_dir: Path) -> None:
        log = (log_dir / f"{self.name}.log").open("ab")
        user = {"user": self.user, "group": self.user, "extra_groups": []} if self.user else {}
        self.process = subprocess.Popen(
            self.command,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=self.cwd,
            **user,
        )
        log.close()  # the child holds its own descriptor
        self.state, self.up_since, self.known_pids = "running", datetime.now(UTC), set()
        self.started, self.failed_probes, self.hung = time.monotonic(), 0, None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def status(self, log_dir: Path) -> dict:
        def iso(moment: datetime | None) -> str | None:
            return moment.isoformat(timespec="seconds") if moment else None

        return {
            "name": self.name,
            "state": self.state,
            "pid": self.pid if self.state == "running" else None,
            "up_since": iso(self.up_since) if self.state == "running" else None,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "last_exit_at": iso(self.last_exit_at),
            "url": self.url,
            "log": str(log_dir / f"{self.name}.log"),
        }


def become_subreaper() -> None:
    """Make this process the parent of last resort of everything it starts from now on.

    A process whose parent dies is re-parented here instead of to init, so it is still
    found below this one; services' processes start sessions of their own, outlive their
    parents (Dagster's code servers) and overwrite their environment (Airflow's API
    server), so neither process groups nor environment marks find them all. Linux only.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def process_table() -> list[tuple[int, str, int]]:
    """(pid, state, parent pid) of every process, from /proc; state "Z" is a zombie."""
    table = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        table.append((int(stat.parent.name), fields[0], int(fields[1])))
    return table


def children_by_parent(table: list[tuple[int, str, int]]) -> dict[int, list[int]]:
    """Each process's living children, from a `process_table()`."""
    children: dict[int, list[int]] = {}
    for child, state, parent in table:
        if state != "Z":
            children.setdefault(parent, []).append(child)
    return children


def descendants(pid: int, children: dict[int, list[int]] | None = None) -> list[int]:
    """Every living process below `pid`."""
    children = children_by_parent(process_table()) if children is None else children
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def _signal_all(pids, sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


class Supervisor:
    """Starts services, restarts those that die, and stops them all on request.

    Used as a context manager: on entry this process becomes a subreaper, so
    everything the services start stays below it; on exit the services stop tier by
    tier (what runs jobs before the servers it calls, the database last), then
    whatever else is left below it.
    """

    def __init__(
        self,
        log_dir: Path,
        policy: RestartPolicy = RestartPolicy(),
        stop_timeout: float = 15,
        poll_interval: float = 0.2,
        metrics_port: int | None = None,
    ) -> None:
        self.log_dir = log_dir
        self.metrics_port = metrics_port
        self._metrics_server = None
        self.policy = policy
        self.stop_timeout = stop_timeout
        self.poll_interval = poll_interval
        self.services: list[Service] = []
        self.status_file = status_file(log_dir)
        self.stopping = False

    def __enter__(self) -> Supervisor:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        become_subreaper()
        if self.metrics_port is not None:
            from prometheus_client import CollectorRegistry, start_http_server

            registry = CollectorRegistry()
            registry.register(ServiceStatusCollector(self.status_file))
            self._metrics_server, _ = start_http_server(
                self.metrics_port, addr="127.0.0.1", registry=registry
            )
        return self

    def __exit__(self, *exc_info) -> None:
        print("Stopping...", flush=True)
        self.stopping = True
        for tier in sorted({s.stop_tier for s in self.services}):
            self._stop_tier([s for s in self.services if s.stop_tier == tier])
        self._stop_tier([])  # whatever is left below this process: orphans
        for service in self.services:
            service.state = "stopped"
        self.write_status()
        if self._metrics_server is not None:
            self._metrics_server.shutdown()

    def start(self, service: Service) -> Service:
        """Start a service now and supervise it from then on."""
        service.start(self.log_dir)
        self.services.append(service)
        self.write_status()
        return service

    def run(self) -> int:
        """Supervise until Ctrl-C / SIGTERM; 1 if a service was given up on, else 0."""

        def request_stop(signum, frame):
            self.stopping = True

        previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        threading.Thread(target=self._probe_forever, name="liveness", daemon=True).start()
        try:
            while not self.stopping:
                self.check()
                time.sleep(self.poll_interval)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 1 if any(s.state == "failed" for s in self.services) else 0

    def check(self) -> None:
        """One round: notice exits, restart what is due, reap orphans, record the state."""
        now = time.monotonic()
        children = children_by_parent(process_table())
        changed = False
        for service in self.services:
            if service.state == "running":
                code = service.process.poll()
                if code is None:
                    service.known_pids.update(descendants(service.pid, children))
                    if service.hung:
                        _signal_all([service.pid], signal.SIGKILL)
                    continue
                self._exited(service, code, now)
                changed = True
            elif service.state == "backoff" and now >= service.next_start and not self.stopping:
                service.start(self.log_dir)
                service.restarts += 1
                print(f"{service.name} restarted (restart {service.restarts})", flush=True)
                changed = True
        self.reap_orphans()
        if changed:
            self.write_status()

    def _probe_forever(self) -> None:
        """Probe the services that have a liveness probe; mark those that keep failing."""
        while not self.stopping:
            for service in list(self.services):
                liveness, now = service.liveness, time.monotonic()
                if (
                    liveness is None
                    or service.state != "running"
                    or service.hung
                    or now - service.started < liveness.grace
                    or now - service.last_probe < liveness.interval
                ):
                    continue
                service.last_probe = now
                try:
                    working = liveness.probe()
                except Exception:  # a probe that breaks says nothing about the service
                    working = None
                if working is None:
                    continue
                service.failed_probes = 0 if working else service.failed_probes + 1
                if service.failed_probes >= liveness.failures:
                    service.hung = f"hung: {liveness.what} failed {service.failed_probes} times"
                    print(f"{service.name} {service.hung}; killing it", file=sys.stderr, flush=True)
            time.sleep(0.5)

    def _exited(self, service: Service, code: int, now: float) -> None:
        service.last_exit = service.hung or describe_exit(code)
        service.last_exit_at = datetime.now(UTC)
        # What it started dies with it, as in a cgroup: orphans would hold its ports.
        _signal_all(service.known_pids & set(descendants(os.getpid())), signal.SIGTERM)
        exits = service.recent_exits
        exits.append(now)
        while exits and now - exits[0] > self.policy.window:
            exits.popleft()
        log = self.log_dir / f"{service.name}.log"
        if len(exits) >= self.policy.max_crashes:
            service.state = "failed"
            print(
                f"{service.name} exited ({service.last_exit}) {len(exits)} times within "
                f"{self.policy.window:.0f} s: left stopped, the rest keeps running; see {log}",
                file=sys.stderr,
                flush=True,
            )
            return
        delay = self.policy.delay(len(exits))
        service.state, service.next_start = "backoff", now + delay
        print(
            f"{service.name} exited ({service.last_exit}); restarting in {delay:g} s; see {log}",
            file=sys.stderr,
            flush=True,
        )

    def write_status(self) -> None:
        status = {
            "supervisor_pid": os.getpid(),
            "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "services": [s.status(self.log_dir) for s in self.services],
        }
        partial = self.status_file.with_name(f".{self.status_file.name}.partial")
        partial.write_text(json.dumps(status, indent=2))
        partial.replace(self.status_file)

    def reap_orphans(self) -> None:
        """Collect the exit status of ended orphans re-parented here (not our services':
        their Popen does), so that no zombie is left."""
        ours = {s.pid for s in self.services if s.process is not None}
        for pid, state, parent in process_table():
            if state == "Z" and parent == os.getpid() and pid not in ours:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)

    def _stop_tier(self, services: list[Service]) -> None:
        """Stop these services with their stop signal and everything they started; with no
        services, every process left below this one. SIGKILL what outlives the timeout."""
        deadline = time.monotonic() + self.stop_timeout
        signalled: set[int] = set()
        while True:
            children = children_by_parent(process_table())
            alive = set(descendants(os.getpid(), children))
            if services:
                left = [
                    pid
                    for s in services
                    for pid in {s.pid, *descendants(s.pid, children), *s.known_pids} & alive
                ]
            else:
                left = list(alive)
            if not left:
                break
            if time.monotonic() < deadline:
                for service in services:
                    if service.pid in alive and service.pid not in signalled:
                        _signal_all([service.pid], service.stop_signal)
                        signalled.add(service.pid)
                _signal_all([pid for pid in left if pid not in signalled], signal.SIGTERM)
                signalled.update(left)
            else:
                _signal_all(left, signal.SIGKILL)
            for service in self.services:
                if service.process is not None:
                    service.process.poll()  # collects our own children's exit
            self.reap_orphans()
            time.sleep(0.1)
        self.reap_orphans()


def read_status(status_file: Path) -> dict | None:
    """What the supervisor last wrote, with `running` telling whether it is still alive."""
    try:
        status = json.loads(status_file.read_text())
    except (OSError, ValueError):
        return None
    states = {pid: state for pid, state, _ in process_table()}
    status["running"] = states.get(status["supervisor_pid"], "Z") != "Z"
    return status


def format_status(status: dict, now: datetime | None = None) -> str:
    """The services as a table: state, pid, up for, restarts, last exit."""
    now = now or datetime.now(UTC)

    def ago(moment: str | None) -> str:
        if not moment:
            return "-"
        seconds = max(int((now - datetime.fromisoformat(moment)).total_seconds()), 0)
        hours, rest = divmod(seconds, 3600)
        return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"

    rows = [("service", "state", "pid", "up for", "restarts", "last exit")]
    for service in status["services"]:
        last = service["last_exit"]
        rows.append(
            (
                service["name"],
                service["state"],
                str(service["pid"] or "-"),
                ago(service["up_since"]),
                str(service["restarts"]),
                f"{last}, {ago(service['last_exit_at'])} ago" if last else "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)), row[-1]])
        for row in rows
    )


class ServiceStatusCollector:
    """Prometheus metrics of the supervised services, read from the supervisor's status file."""

    def __init__(self, status_file: Path) -> None:
        self.status_file = status_file

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        up = GaugeMetricFamily(
            "creditops_service_up",
            "1 while the service runs under the supervisor.",
            labels=["service"],
        )
        restarts = CounterMetricFamily(
            "creditops_service_restarts",
            "Restarts of the service by the supervisor since `creditops run` started.",
            labels=["service"],
        )
        status = read_status(self.status_file)
        for service in (status or {}).get("services", []):
            running = status["running"] and service["state"] == "running"
            up.add_metric([service["name"]], 1.0 if running else 0.0)
            restarts.add_metric([service["name"]], service["restarts"])
        yield up
        yield restarts
