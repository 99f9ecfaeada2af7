"""Stopping the stack ends every process it started, however they were started."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from creditops.stack import process_table

# A service that starts a detached child ignoring SIGTERM, and on SIGTERM starts
# another one and exits: that one is started during the stop and orphaned at once.
STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
SERVICE = """
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
SUPERVISOR = """
import sys
from pathlib import Path

from creditops.stack import process_table
from creditops.stack import Service, supervise
command = [sys.executable, "-c", sys.argv[2], sys.argv[3], sys.argv[4]]
sys.exit(supervise([Service("spawner", command, url="")], Path(sys.argv[1]), stop_timeout=2))
"""


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


def test_stop_ends_detached_children_and_those_started_during_the_stop(tmp_path):
    token = f"stubborn-{uuid.uuid4().hex}"
    supervisor = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, str(tmp_path), SERVICE, STUBBORN, token]
    )
    deadline = time.monotonic() + 20
    while len(living(token)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(living(token)) == 3  # the supervisor, the service and its child
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(timeout=60) == 0
    assert living(token) == []
