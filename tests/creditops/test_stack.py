"""Stopping a service ends every process it started, however they were started."""

from __future__ import annotations

import sys
import time

from creditops.stack import Service, marked_processes

# On SIGTERM it starts a detached child that ignores SIGTERM, then exits: the
# child is orphaned after the stop began, as shutdown hooks sometimes do.
SPAWNS_ON_STOP = """
import signal, subprocess, sys, time
STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
def leave_a_child(signum, frame):
    subprocess.Popen([sys.executable, "-c", STUBBORN], start_new_session=True)
    time.sleep(0.5)
    sys.exit(0)
signal.signal(signal.SIGTERM, leave_a_child)
subprocess.Popen([sys.executable, "-c", STUBBORN], start_new_session=True)
time.sleep(600)
"""


def test_stop_ends_children_started_during_the_stop_and_orphans(tmp_path):
    service = Service("spawner", [sys.executable, "-c", SPAWNS_ON_STOP], url="")
    service.start(tmp_path)
    deadline = time.monotonic() + 10
    while len(marked_processes(service.mark)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(marked_processes(service.mark)) == 2
    service.stop(timeout=3)
    assert marked_processes(service.mark) == []
    assert service.process.returncode is not None
