"""Real database servers for the presets' live tests, started on 127.0.0.1 and free ports.

Each server lives in its own temporary directory and is stopped by the fixture that started it.
A server whose binaries are missing skips the test with the reason (tests that start one carry
the ``live`` marker; under ``VELERO_POSTRENDER_REQUIRE_ALL=1``, as in CI, that skip fails).
PostgreSQL refuses to run as root, so as root it runs as the ``postgres`` user (or ``nobody``)
through ``setpriv``; MariaDB and Redis run as the current user.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml
from conftest import run_cli

POSTGRES_BINS = sorted((p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()),
                       key=lambda p: int(p.parent.name), reverse=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require(binary: str) -> str:
    """The path of a binary a live test needs; the test skips, with the reason, where it is missing."""
    found = shutil.which(binary) or next((str(d / binary) for d in POSTGRES_BINS if (d / binary).exists()), None)
    if found is None:
        pytest.skip(f"{binary} is not installed (.ci/run installs it: postgresql, mariadb-server, redis-server)")
    return found


def wait_until(ready: Callable[[], bool], what: str, attempts: int = 600) -> None:
    """Poll until ``ready()``; a server that never comes up fails with its name (not a timing check)."""
    for _ in range(attempts):
        if ready():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not come up")


def _unprivileged() -> tuple[int, int] | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid
    return 65534, 65534


def _as_user(argv: list[str], ids: tuple[int, int] | None) -> list[str]:
    if ids is None:
        return argv
    return ["setpriv", f"--reuid={ids[0]}", f"--regid={ids[1]}", "--clear-groups", *argv]


def _end(process: subprocess.Popen[bytes]) -> None:
    """Stop a server process the test started: SIGTERM, then SIGKILL if it lingers."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Server:
    """A running server: where it listens and how the test talks to it as administrator."""

    port: int
    root: Path
    password: str
    stop: Callable[[], None] = field(repr=False, default=lambda: None)
    extra: dict[str, Any] = field(default_factory=dict)


# --- PostgreSQL ---------------------------------------------------------------------------

def start_postgres(password: str = "s3cret-pg") -> Server:
    initdb, pg_ctl = require("initdb"), require("pg_ctl")
    require("psql")
    root = Path(tempfile.mkdtemp(prefix="vpr-pg-"))
    ids = _unprivileged()
    (root / "pw").write_text(password + "\n")
    if ids is not None:
        os.chown(root, *ids)
        os.chown(root / "pw", *ids)
    subprocess.run(_as_user([initdb, "-D", str(root / "data"), "-U", "postgres", f"--pwfile={root / 'pw'}",
                             "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--no-sync"], ids),
                   check=True, capture_output=True)
    port = free_port()
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {root} -c fsync=off"
    subprocess.run(_as_user([pg_ctl, "-D", str(root / "data"), "-o", options, "-l", str(root / "log"), "-w",
                             "start"], ids), check=True, capture_output=True)

    def stop() -> None:
        subprocess.run(_as_user([pg_ctl, "-D", str(root / "data"), "-m", "immediate", "stop"], ids),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)

    return Server(port, root, password, stop)


def psql(server: Server, sql: str, database: str = "postgres") -> str:
    """Run SQL as the superuser over the server's socket; the unaligned, tuples-only result."""
    done = subprocess.run(["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", str(server.root), "-p",
                           str(server.port), "-U", "postgres", "-d", database, "-c", sql],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


# --- MariaDB --------------------------------------------------------------------------------

def start_mariadb(password: str = "s3cret-maria") -> Server:
    mariadbd = require("mariadbd")
    install = require("mariadb-install-db")
    require("mariadb")
    root = Path(tempfile.mkdtemp(prefix="vpr-maria-"))
    user = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run([install, "--no-defaults", f"--datadir={root / 'data'}", "--auth-root-authentication-method=normal",
                    "--skip-test-db", *user], check=True, capture_output=True)
    port = free_port()
    socket_path = root / "mysqld.sock"
    process = subprocess.Popen([mariadbd, "--no-defaults", f"--datadir={root / 'data'}", f"--socket={socket_path}",
                                f"--port={port}", "--bind-address=127.0.0.1", "--skip-name-resolve",
                                f"--pid-file={root / 'mysqld.pid'}", f"--log-error={root / 'error.log'}",
                                "--innodb-flush-log-at-trx-commit=0", *user],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Server(port, root, password, extra={"socket": socket_path})

    def stop() -> None:
        _end(process)
        shutil.rmtree(root, ignore_errors=True)

    server.stop = stop
    wait_until(lambda: _maria(server, "SELECT 1", check=False).returncode == 0, "mariadbd")
    _maria(server, f"ALTER USER root@localhost IDENTIFIED BY '{password}'; "
                   f"CREATE USER root@'%' IDENTIFIED BY '{password}'; "
                   "GRANT ALL ON *.* TO root@'%' WITH GRANT OPTION; "
                   f"DROP USER IF EXISTS root@'127.0.0.1', root@'::1', root@'{socket.gethostname()}'; "
                   "DELETE FROM mysql.global_priv WHERE user = ''; FLUSH PRIVILEGES;")
    server.extra["ready"] = True
    return server


def _maria(server: Server, sql: str, check: bool = True, database: str = "") -> subprocess.CompletedProcess[str]:
    auth = [f"--password={server.password}"] if server.extra.get("ready") else []
    done = subprocess.run(["mariadb", "--no-defaults", f"--socket={server.extra['socket']}", "-u",
                           server.extra.get("user", "root"), *auth,
                           "-N", "-B", "-e", sql, *([database] if database else [])],
                          capture_output=True, text=True)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def mariadb(server: Server, sql: str, database: str = "") -> str:
    return _maria(server, sql, database=database).stdout.strip()


# --- Redis ----------------------------------------------------------------------------------

def start_redis(password: str = "s3cret-redis") -> Server:
    redis_server = require("redis-server")
    require("redis-cli")
    root = Path(tempfile.mkdtemp(prefix="vpr-redis-"))
    port = free_port()
    process = subprocess.Popen([redis_server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(root),
                                "--requirepass", password, "--masterauth", password, "--save", "",
                                "--appendonly", "yes", "--daemonize", "no", "--logfile", str(root / "redis.log")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop() -> None:
        _redis(server, "SHUTDOWN", "NOSAVE", "NOW", "FORCE", check=False)
        _end(process)
        shutil.rmtree(root, ignore_errors=True)

    server = Server(port, root, password, stop)
    wait_until(lambda: _redis(server, "PING", check=False).stdout.strip() == "PONG", "redis-server")
    return server


def _redis(server: Server, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(server.port), "--no-auth-warning", *args],
                          capture_output=True, text=True, env={**os.environ, "REDISCLI_AUTH": server.password})
    if check:
        assert done.returncode == 0 and not done.stdout.startswith("ERR"), done.stdout + done.stderr
    return done


def redis(server: Server, *args: str) -> str:
    return _redis(server, *args).stdout.strip()


# --- the hooks, as the CLI writes them ------------------------------------------------------

@dataclass(frozen=True)
class Hooks:
    """The hook commands of one pod template and the container they run in."""

    container: dict[str, Any]
    annotations: dict[str, str]

    def command(self, prefix: str) -> list[str]:
        argv = json.loads(self.annotations[f"{prefix}/command"])
        assert isinstance(argv, list) and all(isinstance(a, str) for a in argv)
        return argv

    @property
    def pre_backup(self) -> list[str]:
        return self.command("pre.hook.backup.velero.io")

    @property
    def post_restore(self) -> list[str]:
        return self.command("post.hook.restore.velero.io")

    def env_names(self) -> list[str]:
        return [str(e["name"]) for e in self.container.get("env") or []]


def rendered_hooks(manifest: str | Path, preset: str, workload: str, scratch: Path,
                   settings: tuple[str, ...] = ()) -> Hooks:
    """Run the real CLI on a manifest with ``--preset`` and the scratch path moved to ``scratch``."""
    text = manifest.read_text() if isinstance(manifest, Path) else manifest
    args = ["--preset", preset, "--set", f"scratchPath={scratch}"]
    for setting in settings:
        args += ["--set", setting]
    done = run_cli(args, text)
    assert done.returncode == 0, done.stderr.decode()
    for doc in yaml.safe_load_all(done.stdout):
        if isinstance(doc, dict) and doc.get("metadata", {}).get("name") == workload and doc.get("kind") in (
                "StatefulSet", "Deployment"):
            template = doc["spec"]["template"]
            annotations = template["metadata"]["annotations"]
            name = annotations["pre.hook.backup.velero.io/container"]
            container = next(c for c in template["spec"]["containers"] if c["name"] == name)
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts") or []}
            assert mounts.get(str(scratch)) == "velero-scratch", "the scratch volume is not mounted in the hook container"
            return Hooks(container, annotations)
    raise AssertionError(f"{workload} was not hooked by --preset {preset}")


def container_env(hooks: Hooks, values: dict[str, str], secrets_dir: Path) -> dict[str, str]:
    """The environment the chart's container would have at hook time.

    Literal ``value:`` entries are taken from the manifest; variables filled from Secrets get
    ``values[NAME]``; a ``*_FILE`` variable points at a file holding ``values[NAME]`` (the
    Secret mounted as a file). ``values`` may add or override variables (e.g. the test port).
    """
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(secrets_dir), "LANG": "C.UTF-8"}
    secrets_dir.mkdir(parents=True, exist_ok=True)
    for item in hooks.container.get("env") or []:
        if "value" in item:
            env[str(item["name"])] = str(item["value"])
    for name, value in values.items():
        if name.endswith("_FILE"):
            path = secrets_dir / name.lower()
            path.write_text(value + "\n")
            env[name] = str(path)
        else:
            env[name] = value
    return env


def run_hook(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a hook's argv as Velero's exec would, in its own process; output kept for failures."""
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, f"hook failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done
