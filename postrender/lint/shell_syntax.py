"""Shell syntax errors in hook scripts, found with ``SHELL -n``: parsed, never run.

Each ``script:`` (with its ``shell``) and each ``command: [SHELL, -c, SCRIPT]`` of an allow-listed
shell is given to that shell's ``-n`` mode, which reads the commands without executing any,
after the placeholders were filled in as a run fills them. A shell not installed here is not
checked. This is the one place the package starts a process.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from typing import Any, Iterator, Mapping

from postrender.errors import Problem, Severity, error
from postrender.lint.base import SHELLS, RuleView, shell_name

ID = "shell-syntax"
SEVERITY = Severity.ERROR
TYPE = "rule"
CONF: dict[str, tuple[type, str]] = {"timeout": (int, "seconds one SHELL -n may take")}
DEFAULT: dict[str, Any] = {"timeout": 10}

_SHELL_MESSAGE = re.compile(r"^[^:]*: (?:line )?(\d+): (.*)$")


def check(rule: RuleView, conf: Mapping[str, Any]) -> Iterator[Problem]:
    for script in rule.scripts():
        found = shell_syntax_error(script.filled(), script.shell, int(conf["timeout"]))
        if found is not None:
            script_line, message = found
            yield error(f"shell syntax error ({shell_name(script.shell)} -n): {message}", script.location(script_line),
                        "the script was only parsed, never run")


def shell_syntax_error(script: str, shell: str, timeout: int = DEFAULT["timeout"]) -> tuple[int | None, str] | None:
    """``(line in the script, message)`` when ``SHELL -n`` refuses the script, else None.

    ``-n`` makes the shell read and parse the commands without executing any. A shell that is
    not installed here is not checked (None).
    """
    base = shell_name(shell)
    if base not in SHELLS:
        return None
    executable = shutil.which(base) or (shutil.which("sh") if base in ("ash", "dash") else None)
    if executable is None:
        return None
    try:
        result = subprocess.run([executable, "-n"], input=script.encode("utf-8"), capture_output=True,
                                timeout=timeout, env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C"})
    except subprocess.TimeoutExpired:
        return None, f"{base} -n did not finish within {timeout}s"
    if result.returncode == 0:
        return None
    output = result.stderr.decode("utf-8", "replace").strip().splitlines() or [f"{base} -n exited {result.returncode}"]
    parsed = _SHELL_MESSAGE.match(output[0])
    if parsed:
        return int(parsed.group(1)), parsed.group(2).strip()
    return None, output[0].strip()
