"""A private PostgreSQL cluster under the data root, run with the server binaries on the machine.

Used when no DATABASE_URL is set, and by the test suite. As root, the server
runs as the `postgres` system user (initdb refuses root), so the cluster's
folder is owned by that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigurationError

SUPERUSER = "creditops"
INSTALL_HINT = (
    "install them (Debian/Ubuntu: `apt-get install postgresql`), point "
    "CREDITOPS_PG_BIN_DIR at the folder holding initdb and pg_ctl, or set DATABASE_URL "
    "to an existing server"
)


def find_server_binaries(bin_dir: Path | None = None) -> Path:
    """The folder holding initdb, pg_ctl and postgres, newest version first."""
    candidates: list[Path] = []
    if bin_dir is not None:
        candidates.append(bin_dir)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    by_version = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates += [Path(p) for p in by_version] + [Path("/usr/local/pgsql/bin")]
    for folder in candidates:
        if all((folder / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    where = f" in {bin_dir}" if bin_dir else ""
    raise ConfigurationError(f"PostgreSQL server binaries not found{where}: {INSTALL_HINT}")


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class EmbeddedPostgres:
    """One cluster in `root`: `pgdata/`, `server.log`, and the superuser's password."""

    root: Path
    preferred_port: int = 54329
    bin_dir: Path | None = None
    # Throwaway clusters (tests) trade durability for speed.
    durable: bool = True

    @property
    def pgdata(self) -> Path:
        return self.root / "pgdata"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def _password_file(self) -> Path:
        return self.root / "password"

    def _binaries(self) -> Path:
        return find_server_binaries(self.bin_dir)

    def _as_server_user(self) -> list[str]:
        return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [*self._as_server_user(), str(self._binaries() / args[0]), *args[1:]]
        result = subprocess.run(command, capture_output=True, text=True, cwd="/")
        if check and result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise ConfigurationError(
                f"{args[0]} failed for the embedded cluster in {self.root}: "
                f"{detail[-1] if detail else 'exit code ' + str(result.returncode)}"
                f" (log: {self.log_file})"
            )
        return result

    def _give_to_server_user(self, path: Path) -> None:
        if os.geteuid() != 0:
            return
        try:
            user = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise ConfigurationError(
                "running as root needs the `postgres` system user to run the server: "
                "install PostgreSQL with `apt-get install postgresql`, or run as another user"
            ) from exc
        os.chown(path, user.pw_uid, user.pw_gid)
        reachable = subprocess.run(
            ["runuser", "-u", "postgres", "--", "test", "-w", str(path)], capture_output=True
        )
        if reachable.returncode != 0:
            raise ConfigurationError(
                f"the `postgres` system user cannot reach {path}: make its parent folders "
                "traversable (chmod o+x) or set CREDITOPS_DATA_ROOT to a folder it can reach"
            )

    @property
    def initialized(self) -> bool:
        return (self.pgdata / "PG_VERSION").is_file()

    def init(self) -> None:
        if self.initialized:
            return
        self._binaries()
        self.root.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        self._give_to_server_user(self.root)
        self._give_to_server_user(self.pgdata)
        self._password_file.write_text(secrets.token_urlsafe(24))
        self._password_file.chmod(0o600)
        # initdb reads the password from a file the server user can read.
        pwfile = self.root / ".initdb-password"
        shutil.copyfile(self._password_file, pwfile)
        self._give_to_server_user(pwfile)
        try:
            self._run(
                "initdb",
                "-D",
                str(self.pgdata),
                "-U",
                SUPERUSER,
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "--encoding=UTF8",
                "--locale=C",
                *([] if self.durable else ["--no-sync"]),
            )
        finally:
            pwfile.unlink(missing_ok=True)
        settings = [
            "listen_addresses = '127.0.0.1'",
            "unix_socket_directories = ''",
            "max_connections = 200",
            "shared_buffers = '256MB'",
        ]
        if not self.durable:
            settings += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        with (self.pgdata / "postgresql.auto.conf").open("a") as conf:
            conf.write("\n".join(settings) + "\n")

    def running_port(self) -> int | None:
        """The port of the running server, or None when it is stopped."""
        if not self.initialized:
            return None
        if self._run("pg_ctl", "status", "-D", str(self.pgdata), check=False).returncode != 0:
            return None
        lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        return int(lines[3])

    def choose_port(self) -> int:
        """The preferred port when free, else any free one."""
        preferred = self.preferred_port
        return preferred if preferred and _port_is_free(preferred) else _free_port()

    @property
    def server_user(self) -> str | None:
        """The system user the server runs as: `postgres` when we are root."""
        return "postgres" if os.geteuid() == 0 else None

    def server_command(self, port: int) -> list[str]:
        """The postmaster in the foreground, for a supervisor (run it as `server_user`)."""
        self.init()
        return [str(self._binaries() / "postgres"), "-D", str(self.pgdata), "-p", str(port)]

    def wait_until_ready(self, server: subprocess.Popen, timeout: float = 60) -> None:
        """Wait until the postmaster `server` accepts connections (its pid file says so)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
            except OSError:
                lines = []
            if len(lines) >= 8 and lines[0] == str(server.pid) and lines[7].strip() == "ready":
                return
            if server.poll() is not None:
                raise ConfigurationError(
                    f"the embedded PostgreSQL in {self.root} exited while starting "
                    f"(exit code {server.returncode})"
                )
            time.sleep(0.05)
        raise ConfigurationError(
            f"the embedded PostgreSQL in {self.root} did not become ready in {timeout:.0f} s"
        )

    def start(self) -> str:
        """Start the cluster (initialising it the first time) and return its database URL."""
        self.init()
        if self.running_port() is None:
            port = self.choose_port()
            if not self.log_file.exists():
                self.log_file.touch()
                self._give_to_server_user(self.log_file)
            self._run(
                "pg_ctl",
                "start",
                "-D",
                str(self.pgdata),
                "-l",
                str(self.log_file),
                "-o",
                f"-p {port}",
                "-w",
                "-t",
                "60",
            )
        self.create_database("creditops")
        return self.url()

    def create_database(self, name: str) -> None:
        """Create a database in the running cluster unless it exists."""
        import psycopg
        from psycopg import sql

        admin_url = self.url(database="postgres", driver="psycopg").replace("+psycopg", "")
        with psycopg.connect(admin_url, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if exists.fetchone() is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def stop(self) -> None:
        if self.running_port() is not None:
            self._run("pg_ctl", "stop", "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "60")

    def url(self, database: str = "creditops", driver: str = "psycopg") -> str:
        port = self.running_port()
        if port is None:
            raise ConfigurationError(
                f"the embedded PostgreSQL in {self.root} is not running: `creditops db start`"
            )
        password = self._password_file.read_text().strip()
        return f"postgresql+{driver}://{SUPERUSER}:{password}@127.0.0.1:{port}/{database}"

    def destroy(self) -> None:
        """Stop the cluster and delete its files (throwaway clusters only)."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
