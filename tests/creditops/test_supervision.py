"""The local supervisor: restarts with back-off, gives up on a crash loop, stops everything.

Each supervisor runs in a process of its own, as `creditops run` does: it becomes a
subreaper and takes over SIGINT/SIGTERM, which the test process must not.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from creditops.embedded_postgres import EmbeddedPostgres
from creditops.settings import Settings
from creditops.supervision import (
    RestartPolicy,
    format_status,
    process_table,
    read_status,
    status_file,
)

from ..conftest import free_port, server_reachable_dir, wait_for

# A service that starts a detached child ignoring SIGTERM, and on SIGTERM starts
# another one and exits: that one is started during the stop and orphaned at once.
STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
SPAWNER = """
import signal, subprocess, sys, time
stubborn = [sys.executable, "-c", sys.argv[1], sys.argv[2]]
def leave_a_child(signum, frame):
    subprocess.Popen(stubborn, start_new_session=True)
    time.sleep(0.5)
    sys.exit(0)
signal.signal(signal.SIGTERM, leave_a_child)
subprocess.Popen(stubborn, start_new_session=True)
time.sleep(600)
"""
# Supervises the services given as JSON: [[name, [command...]], ...].
SUPERVISOR = """
import json, sys
from pathlib import Path
from creditops.supervision import RestartPolicy, Service, Supervisor
policy = RestartPolicy(**json.loads(sys.argv[2]))
metrics_port = int(sys.argv[4]) if len(sys.argv) > 4 else None
with Supervisor(Path(sys.argv[1]), policy, stop_timeout=2, metrics_port=metrics_port) as supervisor:
    for name, command in json.loads(sys.argv[3]):
        supervisor.start(Service(name, command, url=""))
    code = supervisor.run()
sys.exit(code)
"""
SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]
CRASHER = [sys.executable, "-c", "import sys, time; time.sleep(0.2); sys.exit(3)"]


def living(token: str) -> list[int]:
    """Processes, not zombies, with `token` in their command line."""
    found = []
    for pid, state, _ in process_table():
        try:
            if state != "Z" and token.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:  # ended meanwhile
            continue
    return found


def supervise(
    log_dir: Path, services: list, metrics_port: int | None = None, **policy
) -> subprocess.Popen:
    metrics = [str(metrics_port)] if metrics_port else []
    arguments = [str(log_dir), json.dumps(policy), json.dumps(services), *metrics]
    return subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, *arguments],
        stderr=subprocess.PIPE,
        text=True,
    )


def service_status(log_dir: Path, name: str) -> dict:
    status = read_status(status_file(log_dir)) or {"services": []}
    return next((s for s in status["services"] if s["name"] == name), {})


def test_back_off_doubles_and_is_capped():
    policy = RestartPolicy(first_delay=1, max_delay=5)
    assert [policy.delay(n) for n in range(1, 6)] == [1, 2, 4, 5, 5]


SERVICES = ("victim", "bystander")


def test_a_killed_service_is_restarted_and_counted_the_others_untouched(tmp_path):
    port = free_port()
    supervisor = supervise(
        tmp_path, [[name, SLEEPER] for name in SERVICES], metrics_port=port, first_delay=0.2
    )
    try:
        # Both started: the status file is rewritten after each start.
        first, bystander = wait_for(
            lambda: all(pids := [service_status(tmp_path, n).get("pid") for n in SERVICES]) and pids
        )
        os.kill(first, signal.SIGKILL)
        restarted = wait_for(
            lambda: (s := service_status(tmp_path, "victim"))["restarts"] == 1 and s["pid"] and s
        )
        assert restarted["pid"] != first and restarted["state"] == "running"
        assert restarted["last_exit"] == "killed by SIGKILL"
        assert service_status(tmp_path, "bystander")["pid"] == bystander
        # The supervisor's own metrics endpoint, as Prometheus scrapes it.
        exposition = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        samples = {
            (sample.name, sample.labels["service"]): sample.value
            for family in text_string_to_metric_families(exposition)
            for sample in family.samples
        }
        assert samples[("creditops_service_restarts_total", "victim")] == 1
        assert samples[("creditops_service_restarts_total", "bystander")] == 0
        assert samples[("creditops_service_up", "victim")] == 1
        table = format_status(read_status(status_file(tmp_path)))
        assert "killed by SIGKILL" in table and "victim" in table
    finally:
        supervisor.send_signal(signal.SIGINT)
        _, errors = supervisor.communicate(timeout=30)
    assert supervisor.returncode == 0
    assert "victim exited (killed by SIGKILL); restarting in 0.2 s" in errors
    assert {s["state"] for s in read_status(status_file(tmp_path))["services"]} == {"stopped"}


def test_a_crash_loop_is_given_up_with_its_log_while_the_rest_keeps_running(tmp_path):
    supervisor = supervise(
        tmp_path,
        [["crasher", CRASHER], ["steady", SLEEPER]],
        first_delay=0.05,
        max_crashes=3,
        window=60,
    )
    try:
        wait_for(lambda: service_status(tmp_path, "crasher").get("state") == "failed")
        crasher = service_status(tmp_path, "crasher")
        assert crasher["restarts"] == 2 and crasher["last_exit"] == "exit code 3"
        assert service_status(tmp_path, "steady")["state"] == "running"
        time.sleep(0.5)
        assert service_status(tmp_path, "crasher")["restarts"] == 2  # no further tries
    finally:
        supervisor.send_signal(signal.SIGINT)
        _, errors = supervisor.communicate(timeout=30)
    assert supervisor.returncode == 1  # something was given up on
    assert "crasher exited (exit code 3) 3 times within 60 s: left stopped" in errors
    assert str(tmp_path / "crasher.log") in errors


def test_a_restart_in_back_off_does_not_delay_the_stop(tmp_path):
    supervisor = supervise(tmp_path, [["crasher", CRASHER]], first_delay=60)
    wait_for(lambda: service_status(tmp_path, "crasher").get("state") == "backoff")
    started = time.monotonic()
    supervisor.send_signal(signal.SIGINT)
    supervisor.communicate(timeout=30)
    assert time.monotonic() - started < 3
    assert service_status(tmp_path, "crasher")["restarts"] == 0


def test_stop_ends_detached_children_and_those_started_during_the_stop(tmp_path):
    token = f"stubborn-{uuid.uuid4().hex}"
    spawner = [sys.executable, "-c", SPAWNER, STUBBORN, token]
    supervisor = supervise(tmp_path, [["spawner", spawner]])
    wait_for(lambda: len(living(token)) == 3)  # the supervisor, the service and its child
    supervisor.send_signal(signal.SIGTERM)
    supervisor.communicate(timeout=60)
    assert supervisor.returncode == 0
    assert living(token) == []


HANGING = """
import sys
from pathlib import Path
from creditops.supervision import Liveness, RestartPolicy, Service, Supervisor
flag = Path(sys.argv[2])
liveness = Liveness(lambda: not flag.exists(), "the probe", interval=0.1, grace=0.5, failures=2)
sleeper = [sys.executable, "-c", "import time; time.sleep(600)"]
with Supervisor(Path(sys.argv[1]), RestartPolicy(first_delay=0.1), stop_timeout=2) as supervisor:
    supervisor.start(Service("sleeper", sleeper, url="", liveness=liveness))
    code = supervisor.run()
sys.exit(code)
"""


def test_a_hung_service_whose_probe_keeps_failing_is_killed_and_restarted(tmp_path):
    flag = tmp_path / "hung"
    supervisor = subprocess.Popen(
        [sys.executable, "-c", HANGING, str(tmp_path), str(flag)], stderr=subprocess.PIPE, text=True
    )
    try:
        first = wait_for(lambda: service_status(tmp_path, "sleeper").get("pid"))
        flag.touch()  # alive, but the probe fails from now on
        wait_for(lambda: service_status(tmp_path, "sleeper")["restarts"] == 1)
        flag.unlink()
        restarted = wait_for(lambda: (s := service_status(tmp_path, "sleeper"))["pid"] and s)
        assert restarted["pid"] != first
        assert restarted["last_exit"] == "hung: the probe failed 2 times"
        time.sleep(1.5)  # working again: no further restart
        assert service_status(tmp_path, "sleeper")["restarts"] == 1
    finally:
        supervisor.send_signal(signal.SIGINT)
        _, errors = supervisor.communicate(timeout=30)
    assert "sleeper hung: the probe failed 2 times; killing it" in errors


DATABASE = """
import sys
from pathlib import Path
from creditops.embedded_postgres import EmbeddedPostgres
from creditops.settings import Settings
from creditops.stack import start_embedded_database
from creditops.supervision import RestartPolicy, Supervisor
settings = Settings(data_root=Path(sys.argv[1]), pg_port=0)
with Supervisor(settings.logs_dir, RestartPolicy(first_delay=0.2)) as supervisor:
    print(start_embedded_database(settings, supervisor), flush=True)
    supervisor.run()
"""


@pytest.mark.slow
def test_the_embedded_database_comes_back_on_the_same_url_after_kill_9():
    data_root = server_reachable_dir("creditops-supervised-pg-") / "data"
    settings = Settings(data_root=data_root)
    supervisor = subprocess.Popen(
        [sys.executable, "-c", DATABASE, str(data_root)], stdout=subprocess.PIPE, text=True
    )
    try:
        url = supervisor.stdout.readline().strip()
        engine = create_engine(url, poolclass=NullPool)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE survivor (id int)"))
            conn.execute(text("INSERT INTO survivor VALUES (1)"))
        postmaster = service_status(settings.logs_dir, "postgres")["pid"]
        os.kill(postmaster, signal.SIGKILL)

        def answers():
            try:
                with engine.connect() as conn:
                    return conn.execute(text("SELECT count(*) FROM survivor")).scalar_one()
            except Exception:
                return None

        assert wait_for(answers, timeout=60) == 1  # committed before the crash: recovered
        status = service_status(settings.logs_dir, "postgres")
        assert status["restarts"] >= 1 and status["pid"] != postmaster
    finally:
        supervisor.send_signal(signal.SIGINT)
        supervisor.communicate(timeout=60)
    assert supervisor.returncode == 0
    assert EmbeddedPostgres(settings.postgres_dir).running_port() is None  # stopped cleanly
