"""What the process meets besides its input: a stdout closed early, closed standard streams, a
full disk, signals, bytes that are not UTF-8 in the arguments or the environment, no home
directory, endless or binary sources. Every command ends with an exit code and at most one
line per problem, never a traceback (docs/security.md, "Process conditions").

Every test drives the real command line in a real subprocess (``python -m postrender``); the
signal tests wait until the child is blocked where the test wants it (reading its input,
writing its output), as ``/proc/PID/syscall`` shows, before ``os.kill``.
"""

from __future__ import annotations

import os
import platform
import pty
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT

CHUNK = 1 << 20  # what the bounded reader reads at a time (postrender.stream.reader.CHUNK)

SEED = FIXTURES / "seed" / "postgresql-8.7.4.yaml"
BIG = FIXTURES / "helm3" / "kube-prometheus.yaml"  # 240 KB: far more than a pipe holds
PRESET = ["--preset", "postgresql"]

# Every command, as it is called, and whether it reads a manifest stream on stdin.
COMMANDS: dict[str, tuple[list[str], bool]] = {
    "root": ([*PRESET, "--allow-unmatched"], True),
    "explain": (["explain", *PRESET], True),
    "diff": (["diff", *PRESET, "--allow-unmatched"], True),
    "export flux": (["export", "flux", *PRESET, "--allow-unmatched"], True),
    "lint": (["lint", *PRESET], False),
    "presets": (["presets"], False),
    "presets NAME": (["presets", "postgresql"], False),
    "schema": (["schema"], False),
    "--version": (["--version"], False),
}
STDIN_COMMANDS = [name for name, (_, reads) in COMMANDS.items() if reads]

# The number of the read and write system calls, for /proc/PID/syscall.
SYSCALLS = {"x86_64": {"read": 0, "write": 1}, "aarch64": {"read": 63, "write": 64}}


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VELERO_POSTRENDER_", "HELM_PLUGIN"))}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def command(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "postrender", *args]


def shell(script: str, **env: str) -> subprocess.CompletedProcess[bytes]:
    """Run ``script`` with the real sh, ``$VPR`` being the command line's program."""
    vpr = " ".join(command([]))
    return subprocess.run(["sh", "-c", script], capture_output=True, env=environment(VPR=vpr, **env), cwd=ROOT,
                          timeout=120)


def no_traceback(stderr: bytes) -> str:
    text = stderr.decode("utf-8", "replace")
    assert "Traceback" not in text and "Error:" not in text.replace("error:", ""), text
    return text


def wait_in_syscall(process: subprocess.Popen[bytes], call: str, fd: int, timeout: float = 60) -> None:
    """Wait until ``process`` is blocked in ``call`` (read or write) on file descriptor ``fd``."""
    numbers = SYSCALLS.get(platform.machine())
    if numbers is None:
        pytest.skip(f"no system call numbers for {platform.machine()}")
    wanted = f"{numbers[call]} {hex(fd)} "
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the process ended (exit {process.returncode}) before it blocked in {call}")
        try:
            state = Path(f"/proc/{process.pid}/syscall").read_text()
        except OSError:
            pytest.skip("/proc/PID/syscall cannot be read here")
        if state.startswith(wanted):
            time.sleep(0.05)  # still there a moment later: blocked, not passing through
            if Path(f"/proc/{process.pid}/syscall").read_text().startswith(wanted):
                return
        time.sleep(0.02)
    raise AssertionError(f"the process never blocked in {call} on fd {fd}")


# --- a stdout closed early ----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_stdout_closed_before_the_first_write_ends_the_process_quietly(name):
    """Like ``cat`` or ``grep`` writing into ``| head -1``: killed by SIGPIPE, no BrokenPipeError noise."""
    args, reads = COMMANDS[name]
    reader, writer = os.pipe()
    os.close(reader)  # nobody will ever read: the first write meets a broken pipe
    with open(SEED if reads else os.devnull, "rb") as stdin:
        done = subprocess.run(command(args), stdin=stdin, stdout=writer, stderr=subprocess.PIPE, env=environment(),
                              cwd=ROOT, timeout=120)
    os.close(writer)
    assert done.returncode == -signal.SIGPIPE, done.stderr.decode()
    assert b"Traceback" not in done.stderr and b"BrokenPipe" not in done.stderr


def test_head_in_a_pipeline():
    """The shell sees 141 (128 + SIGPIPE) under ``set -o pipefail``, as for any Unix tool, and no message
    (the stream is far larger than a pipe holds, so the writer meets the closed pipe)."""
    args = " ".join(COMMANDS["root"][0])
    done = subprocess.run(["bash", "-c", f"set -o pipefail; $VPR {args} < {BIG} | head -1; echo \"status $?\""],
                          capture_output=True, env=environment(VPR=" ".join(command([]))), cwd=ROOT, timeout=120)
    assert done.stdout.decode().splitlines()[-1] == "status 141"
    assert b"Traceback" not in done.stderr and b"BrokenPipe" not in done.stderr, done.stderr.decode()


# --- closed standard streams and a full disk ---------------------------------------------


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_closed_stdout_is_one_error_line(name):
    args, reads = COMMANDS[name]
    done = shell(f"$VPR {' '.join(args)} < {SEED if reads else os.devnull} >&-")
    assert done.returncode == 1
    assert no_traceback(done.stderr).splitlines() == [
        "error: standard output is closed: nowhere to write the result (redirect it, e.g. > out.yaml)"]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_closed_stdin_is_one_error_line_for_the_commands_that_read_it(name):
    args, reads = COMMANDS[name]
    done = shell(f"$VPR {' '.join(args)} <&-")
    if reads:
        assert done.returncode == 1
        assert no_traceback(done.stderr).splitlines() == [
            "error: <stdin>: standard input is closed: pipe a manifest stream in"]
        assert done.stdout == b""
    else:
        assert done.returncode == 0, done.stderr.decode()
        assert done.stdout


def test_a_closed_stderr_still_gives_the_exit_code():
    assert shell(f"$VPR --rules /nonexistent < {SEED} 2>&-").returncode == 1
    done = shell(f"$VPR {' '.join(PRESET)} < {SEED} 2>&-")
    assert done.returncode == 0 and b"velero.io" in done.stdout


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_full_disk_is_one_error_line(name):
    args, reads = COMMANDS[name]
    done = shell(f"$VPR {' '.join(args)} < {SEED if reads else os.devnull} > /dev/full")
    assert done.returncode == 1
    assert no_traceback(done.stderr).splitlines()[-1] == "error: cannot write the output: No space left on device"
    assert len([line for line in done.stderr.decode().splitlines() if line.startswith("error:")]) == 1


# --- signals -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", STDIN_COMMANDS)
def test_sigint_while_waiting_for_the_input_exits_130(name):
    process = subprocess.Popen(command(COMMANDS[name][0]), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=environment(), cwd=ROOT)
    try:
        wait_in_syscall(process, "read", 0)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130
    assert stdout == b""
    assert no_traceback(stderr) == ""


def test_sigint_while_waiting_on_a_terminal_exits_130():
    """On a terminal the root command first says what it waits for; Ctrl-C then ends it cleanly."""
    primary, secondary = pty.openpty()
    process = subprocess.Popen(command(PRESET), stdin=secondary, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=environment(), cwd=ROOT)
    os.close(secondary)
    try:
        assert process.stderr is not None
        ready, _, _ = select.select([process.stderr], [], [], 60)
        assert ready, "no hint on stderr"
        hint = os.read(process.stderr.fileno(), 4096).decode()
        assert "reading a manifest stream from stdin" in hint
        wait_in_syscall(process, "read", 0)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
        os.close(primary)
    assert process.returncode == 130
    assert stdout == b""
    assert no_traceback(stderr) == ""


@pytest.mark.parametrize("name", STDIN_COMMANDS)
def test_sigterm_while_waiting_leaves_stdout_empty(name):
    process = subprocess.Popen(command(COMMANDS[name][0]), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=environment(), cwd=ROOT)
    try:
        wait_in_syscall(process, "read", 0)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == -signal.SIGTERM
    assert stdout == b""
    assert no_traceback(stderr) == ""


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, -signal.SIGTERM), (signal.SIGINT, 130)])
def test_a_signal_during_the_write_never_leaves_a_partial_stream(signum, code):
    """The stream is written with SIGINT/SIGTERM held: stopped mid-write (the pipe is full, nobody
    reads yet), the run still delivers every byte, then ends with the signal's status."""
    with BIG.open("rb") as stdin:
        expected = subprocess.run(command([*PRESET, "--allow-unmatched"]), stdin=stdin, capture_output=True,
                                  env=environment(), cwd=ROOT, timeout=120).stdout
    assert len(expected) > 2 * 65536  # more than a pipe holds: the writer blocks
    with BIG.open("rb") as stdin:
        process = subprocess.Popen(command([*PRESET, "--allow-unmatched"]), stdin=stdin, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, env=environment(), cwd=ROOT)
        try:
            wait_in_syscall(process, "write", 1)
            process.send_signal(signum)
            time.sleep(0.2)  # the signal is pending while the write waits
            stdout, stderr = process.communicate(timeout=60)
        finally:
            process.kill()
    assert stdout == expected
    assert process.returncode == code
    assert "Traceback" not in stderr.decode()


# --- arguments and environment that are not UTF-8 -------------------------------------------


@pytest.mark.parametrize("prefix", [[], ["explain"], ["diff"], ["lint"]])
def test_non_utf8_bytes_in_set_are_a_usage_error(prefix):
    args = [os.fsencode(arg) for arg in command([*prefix, *PRESET])] + [b"--set", b"postgresqlImages=caf\xe9"]
    done = subprocess.run(args, stdin=SEED.open("rb"), capture_output=True, env=environment(), cwd=ROOT, timeout=120)
    assert done.returncode == 2
    assert no_traceback(done.stderr).splitlines() == [
        "error: --set 'postgresqlImages=caf\\xe9': holds bytes that are not UTF-8 (from the command line or "
        "VELERO_POSTRENDER_SET); the manifests are UTF-8 text"]
    assert done.stdout == b""


def test_non_utf8_bytes_in_the_set_variable_are_a_usage_error():
    env = {os.fsencode(k): os.fsencode(v) for k, v in environment().items()}
    env[b"VELERO_POSTRENDER_SET"] = b"postgresqlImages=\xff"
    done = subprocess.run(command(PRESET), stdin=SEED.open("rb"), capture_output=True, env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 2
    assert "--set 'postgresqlImages=\\xff': holds bytes that are not UTF-8" in no_traceback(done.stderr)


def test_non_utf8_arguments_reach_the_helm4_error_log(tmp_path):
    log = tmp_path / "error.log"
    args = [os.fsencode(arg) for arg in command(PRESET)] + [b"--set", b"a=\xff"]
    env = environment(HELM_PLUGIN_NAME="velero-postrender", VELERO_POSTRENDER_ERROR_LOG=str(log),
                      VELERO_POSTRENDER_NO_TTY="1")
    done = subprocess.run(args, stdin=SEED.open("rb"), capture_output=True, env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 2
    no_traceback(done.stderr)
    text = log.read_text(encoding="utf-8")
    assert "holds bytes that are not UTF-8" in text and "a=\\udcff" in text  # the arguments, escaped


# --- no home directory under Helm 4 ---------------------------------------------------------


def test_an_unwritable_home_still_gives_the_message_without_the_log(tmp_path):
    env = environment(HELM_PLUGIN_NAME="velero-postrender", HOME="/proc/no-home", VELERO_POSTRENDER_NO_TTY="1")
    env.pop("XDG_STATE_HOME", None)
    done = subprocess.run(command(["--rules", str(tmp_path / "missing.yaml")]), stdin=SEED.open("rb"),
                          capture_output=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 1
    assert no_traceback(done.stderr).splitlines() == [f"error: {tmp_path / 'missing.yaml'}: rules file not found"]


def test_no_home_directory_at_all_still_gives_the_message_without_the_log(tmp_path):
    """HOME unset and a user id without a passwd entry (a container's random uid): Python cannot
    find a home. The test runs as a user that has one, so the child is started with pathlib's
    lookup failing the way it then fails, before the real entry point runs."""
    start = ("import pathlib, sys\n"
             "def no_home(cls): raise RuntimeError('Could not determine home directory.')\n"
             "pathlib.Path.home = classmethod(no_home)\n"
             "sys.argv[0] = 'velero-postrender'\n"
             "from postrender.cli.fast import main\n"
             "main()\n")
    env = environment(HELM_PLUGIN_NAME="velero-postrender", VELERO_POSTRENDER_NO_TTY="1")
    for variable in ("HOME", "XDG_STATE_HOME"):
        env.pop(variable, None)
    done = subprocess.run([sys.executable, "-c", start, "--rules", str(tmp_path / "missing.yaml")],
                          stdin=SEED.open("rb"), capture_output=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 1
    assert no_traceback(done.stderr).splitlines() == [f"error: {tmp_path / 'missing.yaml'}: rules file not found"]


# --- every read bounded -----------------------------------------------------------------------


def peak(args: list[str], stdin: str) -> tuple[subprocess.CompletedProcess[bytes], float, int]:
    """Run the command in a fresh wrapper process: (result, seconds, peak RSS of the command in KiB)."""
    wrapper = ("import json, resource, subprocess, sys, time\n"
               "start = time.monotonic()\n"
               "with open(sys.argv[1], 'rb') as stdin:\n"
               "    done = subprocess.run(sys.argv[2:], stdin=stdin, capture_output=True, timeout=60)\n"
               "print(json.dumps([done.returncode, time.monotonic() - start,\n"
               "                  resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,\n"
               "                  done.stdout.decode('utf-8', 'replace'), done.stderr.decode('utf-8', 'replace')]))\n")
    import json

    ran = subprocess.run([sys.executable, "-c", wrapper, stdin, *command(args)], capture_output=True,
                         env=environment(), cwd=ROOT, timeout=120)
    code, seconds, rss, out, err = json.loads(ran.stdout)
    return subprocess.CompletedProcess(args, code, out.encode(), err.encode()), seconds, rss


@pytest.mark.parametrize("args, stdin", [
    (["--rules", "/dev/zero"], os.devnull),
    (["lint", "/dev/zero"], os.devnull),
    (["lint", "--rules", "/dev/zero"], os.devnull),
    (["explain", *PRESET], "/dev/zero"),
    (["diff", *PRESET], "/dev/zero"),
    (["export", "flux", *PRESET], "/dev/zero"),
    ([*PRESET], "/dev/zero"),
])
def test_an_endless_source_is_refused_at_once_in_a_few_mib(args, stdin):
    baseline = peak([os.devnull if arg == "/dev/zero" else arg for arg in args], os.devnull)[2]  # same, empty input
    done, seconds, rss = peak(args, stdin)
    assert done.returncode == 1
    found = (done.stderr + done.stdout).decode()
    assert "input holds a NUL byte at offset 0: not a YAML stream" in found
    assert "Traceback" not in found
    assert seconds < 10  # on an idle machine: a fraction of a second
    assert rss < baseline + 3 * CHUNK // 1024 + 4096, (rss, baseline)


def test_an_endless_text_source_stops_at_the_input_limit():
    if shutil.which("yes") is None:
        pytest.skip("no yes(1)")
    done = shell(f"yes 'a: b' | $VPR {' '.join(PRESET)} --max-input-bytes 2Mi")
    assert done.returncode == 1
    assert no_traceback(done.stderr).startswith("error: <stdin>: input is larger than 2097152 bytes")


# --- Helm 4 and whitespace-only input ---------------------------------------------------------


@pytest.mark.parametrize("text", ["", "\n", "  \n\n\t\n"])
def test_helm4_gets_a_comment_for_an_input_without_content(text):
    done = subprocess.run(command(PRESET), input=text.encode(), capture_output=True,
                          env=environment(HELM_PLUGIN_NAME="velero-postrender", VELERO_POSTRENDER_NO_TTY="1"),
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == b"# velero-postrender: the input held no manifests\n"
    plain = subprocess.run(command(PRESET), input=text.encode(), capture_output=True, env=environment(), cwd=ROOT,
                           timeout=120)
    assert plain.returncode == 0 and plain.stdout == text.encode()  # Helm 3 and pipes get the input as it was


@pytest.mark.helm
def test_helm4_accepts_the_output_for_a_chart_that_renders_nothing(tmp_path):
    """The real Helm 4 refuses an empty post-renderer output; it takes ours (a plugin that is only a
    plugin.yaml running this checkout, so no environment is built)."""
    from helm_binaries import HELM4, require_helm

    helm = require_helm(HELM4)
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: nothing\nversion: 0.1.0\n")
    (chart / "templates" / "blank.yaml").write_text("{{- if .Values.enabled }}\nkind: ConfigMap\n{{- end }}\n\n  \n")
    plugins = {"ours": [sys.executable, "-m", "postrender"], "cat": [shutil.which("cat") or "/bin/cat"]}
    env = environment(HELM_DATA_HOME=str(tmp_path / "data"), HELM_CONFIG_HOME=str(tmp_path / "config"),
                      HELM_CACHE_HOME=str(tmp_path / "cache"), VELERO_POSTRENDER_NO_TTY="1")
    results = {}
    for name, argv in plugins.items():
        plugin = tmp_path / f"plugin-{name}"
        plugin.mkdir()
        args = "".join(f"\n        - {arg!r}" for arg in argv[1:])
        (plugin / "plugin.yaml").write_text(
            f"apiVersion: v1\ntype: postrenderer/v1\nname: vpr-{name}\nversion: 0.1.0\nruntime: subprocess\n"
            f"runtimeConfig:\n  platformCommand:\n    - command: {argv[0]}\n      args:{args or ' []'}\n")
        installed = subprocess.run([str(helm), "plugin", "install", str(plugin)], capture_output=True, text=True,
                                   env=env, cwd=tmp_path, timeout=300)
        assert installed.returncode == 0, installed.stderr
        results[name] = subprocess.run([str(helm), "template", "rel", str(chart), "--post-renderer", f"vpr-{name}",
                                        "--post-renderer-args=--preset=postgresql"] if name == "ours" else
                                       [str(helm), "template", "rel", str(chart), "--post-renderer", f"vpr-{name}"],
                                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert results["cat"].returncode != 0 and "empty output" in results["cat"].stderr  # what we must avoid
    assert results["ours"].returncode == 0, results["ours"].stderr
