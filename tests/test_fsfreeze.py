"""The fsfreeze preset's hooks, run for real: the freeze hook starts a watchdog that thaws the
filesystem after fsfreezeMaxFrozenSeconds even if the thaw hook never runs, and the thaw hook
stops the watchdog.

First with a recording ``fsfreeze`` first on PATH (real shells, real processes, short
timeouts), then on a loop-mounted ext4 filesystem with the real ``fsfreeze`` where the machine
allows it (root, loop devices).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from postrender.api import render

MARKER = b"velero-postrender-fsfreeze-watchdog"
FAKE_FSFREEZE = """\
#!/bin/sh
# A stand-in for util-linux fsfreeze: records each call and keeps the frozen state in a file,
# failing as the real one does (EBUSY when frozen twice, EINVAL when thawing a thawed filesystem).
echo "$*" >> "$FAKE_FSFREEZE_DIR/calls"
case $1 in
  --freeze)
    if [ -e "$FAKE_FSFREEZE_DIR/frozen" ]; then echo "fsfreeze: $2: freeze failed: Device or resource busy" >&2; exit 1; fi
    : > "$FAKE_FSFREEZE_DIR/frozen" ;;
  --unfreeze)
    if [ ! -e "$FAKE_FSFREEZE_DIR/frozen" ]; then echo "fsfreeze: $2: unfreeze failed: Invalid argument" >&2; exit 1; fi
    rm -f "$FAKE_FSFREEZE_DIR/frozen" ;;
  *) exit 64 ;;
esac
"""


def workload(path: Path) -> str:
    """Velero's nginx example: a privileged sidecar that mounts the volume to freeze."""
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
        - name: nginx
          image: nginx:1.27
          volumeMounts: [{{name: logs, mountPath: "{path}"}}]
        - name: fsfreeze
          image: ubuntu:24.04
          securityContext: {{privileged: true}}
          volumeMounts: [{{name: logs, mountPath: "{path}"}}]
      volumes: [{{name: logs, emptyDir: {{}}}}]
"""


def hooks(path: Path, max_frozen: str) -> tuple[list[str], list[str]]:
    """The argv of the freeze and the thaw hook the preset writes for ``path``."""
    output = render(workload(path), presets=["fsfreeze"], set_values={
        "fsfreezePath": str(path), "fsfreezeContainerImage": "ubuntu", "fsfreezeMaxFrozenSeconds": max_frozen}).text
    annotations = yaml.safe_load(output)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["pre.hook.backup.velero.io/container"] == "fsfreeze"
    return (json.loads(annotations["pre.hook.backup.velero.io/command"]),
            json.loads(annotations["post.hook.backup.velero.io/command"]))


class Pod:
    """The hook container's world: PATH (maybe with the fake fsfreeze first) and its TMPDIR."""

    def __init__(self, root: Path, fake: bool):
        self.tmp = root / "tmp"
        self.tmp.mkdir()
        self.env = {**os.environ, "TMPDIR": str(self.tmp)}
        self.fake_dir = root / "fake"
        if fake:
            bin_dir = root / "bin"
            bin_dir.mkdir()
            (bin_dir / "fsfreeze").write_text(FAKE_FSFREEZE)
            (bin_dir / "fsfreeze").chmod(0o755)
            self.fake_dir.mkdir()
            self.env.update(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", FAKE_FSFREEZE_DIR=str(self.fake_dir))

    def run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        """Run a hook the way Velero's exec does: wait for it to exit with its output captured
        (a watchdog that kept stdout open would make this hang)."""
        started = time.monotonic()
        done = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=30)
        assert time.monotonic() - started < 10, "the hook must return at once, the watchdog runs on its own"
        return done

    @property
    def calls(self) -> list[str]:
        log = self.fake_dir / "calls"
        return [line.split()[0] for line in log.read_text().splitlines()] if log.exists() else []

    @property
    def frozen(self) -> bool:
        return (self.fake_dir / "frozen").exists()

    def watchdog(self) -> int | None:
        """The pid of the running watchdog, or None when there is none."""
        pid_file = self.tmp / "velero-postrender-fsfreeze" / "watchdog"
        if not pid_file.exists():
            return None
        pid = int(pid_file.read_text())
        return pid if alive(pid) else None

    def stop(self) -> None:
        pid = self.watchdog()
        if pid is not None:
            os.kill(pid, 15)


def alive(pid: int) -> bool:
    """A running watchdog process (a zombie has an empty cmdline)."""
    try:
        return MARKER in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def eventually(check: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return bool(check())  # type: ignore[operator]


@pytest.fixture
def pod(tmp_path: Path) -> Iterator[Pod]:
    if not Path("/proc/self/cmdline").exists():
        pytest.skip("the hooks find their watchdog through /proc")
    world = Pod(tmp_path, fake=True)
    yield world
    world.stop()


def test_freeze_then_thaw_stops_the_watchdog(pod: Pod, tmp_path: Path) -> None:
    freeze, thaw = hooks(tmp_path, "2")
    done = pod.run(freeze)
    assert done.returncode == 0, done.stderr
    assert pod.frozen and pod.calls == ["--freeze"]
    watchdog = pod.watchdog()
    assert watchdog is not None, "the freeze hook starts a watchdog"
    done = pod.run(thaw)
    assert done.returncode == 0, done.stderr
    assert "thawed" in done.stdout
    assert not pod.frozen and pod.calls == ["--freeze", "--unfreeze"]
    assert eventually(lambda: not alive(watchdog), 5), "the thaw hook stops the watchdog"
    time.sleep(2.5)  # past fsfreezeMaxFrozenSeconds: the stopped watchdog thaws nothing
    assert pod.calls == ["--freeze", "--unfreeze"]


def test_the_watchdog_thaws_when_the_thaw_hook_never_runs(pod: Pod, tmp_path: Path) -> None:
    freeze, thaw = hooks(tmp_path, "1")
    assert pod.run(freeze).returncode == 0
    assert pod.frozen
    assert eventually(lambda: not pod.frozen, 6), "the watchdog thaws after fsfreezeMaxFrozenSeconds"
    assert pod.calls == ["--freeze", "--unfreeze"]
    assert eventually(lambda: pod.watchdog() is None, 5)
    # a thaw hook that runs after the watchdog reports the backup as not consistent
    done = pod.run(thaw)
    assert done.returncode == 1
    assert "watchdog thawed" in done.stderr and "writes were possible" in done.stderr
    assert not pod.frozen
    # and the next backup starts clean
    assert pod.run(freeze).returncode == 0 and pod.run(thaw).returncode == 0


def test_a_second_freeze_while_frozen_fails_and_keeps_the_first_watchdog(pod: Pod, tmp_path: Path) -> None:
    """Two overlapping backups of one pod: the second freeze fails (Velero skips the pod in that
    backup) and the first freeze keeps its watchdog."""
    freeze, thaw = hooks(tmp_path, "30")
    assert pod.run(freeze).returncode == 0
    first = pod.watchdog()
    done = pod.run(freeze)
    assert done.returncode != 0 and "busy" in done.stderr
    assert pod.watchdog() == first and first is not None
    assert pod.run(thaw).returncode == 0
    assert eventually(lambda: not alive(first), 5)


@pytest.mark.parametrize("max_frozen", ["0", "ten", "-5", "1.5"])
def test_a_bad_bound_refuses_to_freeze(pod: Pod, tmp_path: Path, max_frozen: str) -> None:
    freeze, _ = hooks(tmp_path, max_frozen)
    done = pod.run(freeze)
    assert done.returncode == 1 and "fsfreezeMaxFrozenSeconds" in done.stderr
    assert pod.calls == [] and pod.watchdog() is None


def test_a_thaw_without_a_freeze_fails(pod: Pod, tmp_path: Path) -> None:
    _, thaw = hooks(tmp_path, "5")
    done = pod.run(thaw)
    assert done.returncode == 1 and "Invalid argument" in done.stderr


# --- the real thing -----------------------------------------------------------------------------

@pytest.fixture
def loop_mount(tmp_path: Path) -> Iterator[Path]:
    tools = [shutil.which(t) for t in ("losetup", "mkfs.ext4", "mount", "umount", "fsfreeze")]
    if os.geteuid() != 0 or not all(tools) or not Path("/dev/loop-control").exists():
        pytest.skip("a loop-mounted filesystem needs root, /dev/loop-control, losetup, mkfs.ext4 and fsfreeze")
    image = tmp_path / "fs.img"
    with image.open("wb") as handle:
        handle.truncate(32 * 1024 * 1024)
    attached = subprocess.run(["losetup", "-f", "--show", str(image)], capture_output=True, text=True)
    if attached.returncode != 0:
        pytest.skip(f"losetup is not allowed here: {attached.stderr.strip()}")
    device = attached.stdout.strip()
    mount_point = tmp_path / "mnt"
    mount_point.mkdir()
    try:
        subprocess.run(["mkfs.ext4", "-q", "-F", device], check=True, capture_output=True)
        mounted = subprocess.run(["mount", device, str(mount_point)], capture_output=True, text=True)
        if mounted.returncode != 0:
            pytest.skip(f"mount is not allowed here: {mounted.stderr.strip()}")
        try:
            yield mount_point
        finally:
            subprocess.run(["fsfreeze", "--unfreeze", str(mount_point)], capture_output=True)
            subprocess.run(["umount", str(mount_point)], capture_output=True)
    finally:
        subprocess.run(["losetup", "-d", device], capture_output=True)


def _writer(path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sh", "-c", f"echo written > '{path}'"])


@pytest.mark.live
def test_real_freeze_blocks_writes_until_the_thaw(loop_mount: Path, tmp_path: Path) -> None:
    world = Pod(tmp_path, fake=False)
    freeze, thaw = hooks(loop_mount, "20")
    writers: list[subprocess.Popen[bytes]] = []
    try:
        done = world.run(freeze)
        assert done.returncode == 0, done.stderr
        writers.append(_writer(loop_mount / "during"))
        time.sleep(1)
        assert writers[0].poll() is None, "a write to the frozen filesystem blocks"
        done = world.run(thaw)
        assert done.returncode == 0, done.stderr
        assert writers[0].wait(timeout=10) == 0
        assert (loop_mount / "during").read_text() == "written\n"
        watchdog = world.watchdog()
        assert watchdog is None or eventually(lambda: not alive(watchdog), 5)
    finally:
        subprocess.run(["fsfreeze", "--unfreeze", str(loop_mount)], capture_output=True)
        world.stop()
        for writer in writers:
            writer.wait(timeout=30)


@pytest.mark.live
def test_real_watchdog_thaws_a_forgotten_freeze(loop_mount: Path, tmp_path: Path) -> None:
    world = Pod(tmp_path, fake=False)
    freeze, thaw = hooks(loop_mount, "2")
    writers: list[subprocess.Popen[bytes]] = []
    try:
        assert world.run(freeze).returncode == 0
        writers.append(_writer(loop_mount / "later"))
        time.sleep(0.5)
        assert writers[0].poll() is None, "a write to the frozen filesystem blocks"
        assert writers[0].wait(timeout=15) == 0, "the watchdog thaws without the thaw hook"
        assert (loop_mount / "later").read_text() == "written\n"
        done = world.run(thaw)
        assert done.returncode == 1 and "watchdog thawed" in done.stderr
    finally:
        subprocess.run(["fsfreeze", "--unfreeze", str(loop_mount)], capture_output=True)
        world.stop()
        for writer in writers:
            writer.wait(timeout=30)
