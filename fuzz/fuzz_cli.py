"""Coverage-guided fuzzing (atheris/libFuzzer) of the whole command-line entry.

Each input picks a command line from ``COMMANDS`` (its first byte) and is, for the rest, the
manifest stream on stdin, the text of a rules file, or (role "argv") the arguments themselves:
the bytes split at NUL or newline, each piece a word of ``WORDS`` (its first byte) or the
piece itself, undecodable bytes kept as Python keeps them (surrogateescape). The commands
cover the root command and every subcommand. The property is the command line's exit-code
promise: whatever the bytes, the program ends with exit code 0, 1 or 2, never a traceback
or another exception, and a failing root command leaves stdout empty. Any
violation raises, which atheris reports as a crash (non-zero exit, the input saved as ``crash-*``).

Fuzzed arguments never name a file outside the work directory (the process runs there, and
an absolute or parent path becomes a name inside it), never install shell completion, and
never write a kustomize component: the target must not touch the machine it runs on.

    python fuzz/fuzz_cli.py -max_total_time=60 [CORPUS_DIR...]   (or: fuzz/run.sh 60)
"""

from __future__ import annotations

import atexit
import io
import os
import shutil
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["postrender"]):
    from postrender.cli import app as _app  # noqa: F401 - the Typer side, instrumented too
    from postrender.cli import fast as cli  # the console entry point

ROOT = Path(__file__).resolve().parent.parent
# libFuzzer ends the process without running atexit handlers: run.sh passes a directory it removes.
WORKDIR = Path(os.environ.get("FUZZ_WORKDIR") or tempfile.mkdtemp(prefix="velero-postrender-fuzz-"))
WORKDIR.mkdir(parents=True, exist_ok=True)
if "FUZZ_WORKDIR" not in os.environ:
    atexit.register(shutil.rmtree, WORKDIR, True)
REFERENCE_RULES = str(ROOT / "examples" / "reference" / "rules.yaml")
GENERIC_RULES = WORKDIR / "generic.yaml"
GENERIC_RULES.write_text("""\
apiVersion: velero-postrender/v1
kind: RuleSet
params: {size: 1Gi}
rules:
  - name: workloads
    match:
      kinds: [StatefulSet, Deployment, DaemonSet, Job, CronJob, Pod, ReplicaSet, ReplicationController]
    scratch: {name: velero-scratch, mountPath: /velero-scratch, volume: {emptyDir: {sizeLimit: "{{ size }}"}}}
    hooks:
      preBackup: {script: "echo $HOME > /velero-scratch/x", timeout: 1m}
      postRestore: {command: [/bin/sh, -c, "rm -f /velero-scratch/x"], waitForReady: true}
  - name: by-jsonpath
    match: {jsonpath: '$[?(@.kind == "Widget")]'}
    podTemplate: $.spec.template
    hooks:
      postBackup: {command: [/bin/true]}
""")
FUZZED_RULES = WORKDIR / "fuzzed.yaml"
SMALL_STREAM = (ROOT / "examples" / "reference" / "postgresql-8.7.4.yaml").read_bytes()

# (arguments, what the fuzzed bytes are: "stdin", "rules" or "argv"); new entries go at the end,
# so that the first byte of existing seeds keeps choosing the same command line
COMMANDS: list[tuple[list[str], str]] = [
    (["--rules", str(GENERIC_RULES), "--allow-unmatched"], "stdin"),
    (["--rules", str(GENERIC_RULES)], "stdin"),
    (["--rules", REFERENCE_RULES, "--strict"], "stdin"),
    (["--rules", str(GENERIC_RULES), "--max-depth", "12", "--max-alias-expansion", "50", "--max-input-bytes", "4Ki"],
     "stdin"),
    (["explain", "--rules", str(GENERIC_RULES)], "stdin"),
    (["diff", "--rules", str(GENERIC_RULES)], "stdin"),
    (["--rules", str(FUZZED_RULES), "--allow-unmatched"], "rules"),
    (["lint", str(FUZZED_RULES)], "rules"),
    (["explain", "-o", "json", "--rules", str(GENERIC_RULES)], "stdin"),
    (["export", "flux", "--rules", str(GENERIC_RULES), "--allow-unmatched"], "stdin"),
    (["explain", "--rules", str(FUZZED_RULES)], "rules"),
    ([], "argv"),
    (["--rules", str(GENERIC_RULES)], "argv"),
    (["lint"], "argv"),
]
# Words the "argv" role picks from (a piece whose first byte is below len(WORDS) is that word).
WORDS = ["explain", "diff", "lint", "presets", "schema", "export", "flux", "--rules", "-r", str(GENERIC_RULES),
         str(FUZZED_RULES), REFERENCE_RULES, "--preset", "-p", "postgresql", "redis", "--set", "-s", "size=2Gi",
         "--strict", "--allow-unmatched", "--max-input-bytes", "--max-depth", "--max-alias-expansion", "1Ki", "0",
         "--file", "-f", "-", "--output", "-o", "json", "text", "--color", "always", "--wide", "--help", "-h",
         "--version", "--show-completion", "bash", "--list-checks", "--disable", "--check-option",
         "shell-syntax.timeout=5", "--velero-policy", "--path", "--", "="]
FORBIDDEN_WORDS = ("--install-completion", "kustomize")  # they write outside the work directory

for variable in [name for name in os.environ if name.startswith(("VELERO_POSTRENDER_", "HELM_PLUGIN"))
                 or name.endswith("_COMPLETE")]:
    del os.environ[variable]


class Violation(Exception):
    """The program broke its contract for this input."""


def run(args: list[str], stdin: bytes) -> tuple[int, bytes, str]:
    """Run ``main()`` in-process as the console script would; (exit code, stdout, stderr)."""
    saved = sys.argv, sys.stdin, sys.stdout, sys.stderr
    out, err = io.BytesIO(), io.BytesIO()
    streams = (io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"), io.TextIOWrapper(out, encoding="utf-8"),
               io.TextIOWrapper(err, encoding="utf-8", errors="replace"))
    sys.argv = ["velero-postrender", *args]
    sys.stdin, sys.stdout, sys.stderr = streams
    code: object = 0
    directory = os.getcwd()
    os.chdir(WORKDIR)  # relative names in fuzzed arguments are files here (fuzzed_argv)
    try:
        cli.main()
    except SystemExit as exc:
        code = exc.code
    finally:
        os.chdir(directory)
        sys.argv, sys.stdin, sys.stdout, sys.stderr = saved
        for stream in streams:
            stream.flush()
            stream.detach()  # keep the byte buffers open when the wrappers are collected
    if code is None:
        code = 0
    if not isinstance(code, int):
        raise Violation(f"exit with {code!r}")
    return code, out.getvalue(), err.getvalue().decode("utf-8", "replace")


def fuzzed_argv(payload: bytes) -> list[str]:
    """Arguments from bytes: pieces split at NUL or newline, a piece starting with a byte below
    ``len(WORDS)`` is that word, any other piece is itself (surrogateescape'd like real argv)."""
    words: list[str] = []
    for piece in payload.replace(b"\n", b"\0").split(b"\0")[:24]:
        if piece and piece[0] < len(WORDS):
            word = WORDS[piece[0]]
        else:
            word = os.fsdecode(piece)
            if word.startswith(("/", "~")) or ".." in word:
                word = "./" + word.lstrip("/~").replace("..", "_")  # a name inside the work directory
        if not word.startswith(FORBIDDEN_WORDS):
            words.append(word)
    return words


def TestOneInput(data: bytes) -> None:  # noqa: N802 - the name atheris expects
    selector, payload = (data[0], data[1:]) if data else (0, b"")
    args, role = COMMANDS[selector % len(COMMANDS)]
    stdin = SMALL_STREAM
    if role == "rules":
        FUZZED_RULES.write_bytes(payload)
    elif role == "argv":
        args = [*args, *fuzzed_argv(payload)]
    else:
        stdin = payload
    code, stdout, stderr = run(args, stdin)
    if code not in (0, 1, 2):
        raise Violation(f"exit code {code}: {stderr[-2000:]}")
    if "Traceback" in stderr:
        raise Violation(f"traceback on stderr:\n{stderr[-4000:]}")
    if code != 0 and role != "argv" and args[0].startswith("--") and stdout:
        raise Violation(f"exit code {code} with {len(stdout)} bytes on stdout")
    if code == 0 and role != "argv":
        stdout.decode("utf-8")  # the output is UTF-8 text


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
