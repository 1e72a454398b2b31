"""A restore script that exits non-zero when there is nothing to restore.

``[ -f "$dir/dump" ] && restore`` (or ``test ... && ...``) as the last command of a script ends
with the test's status, 1, when the dump is not there: a pod backed up before the rule existed,
a new replica, a standby. Since Velero 1.13 one failed post-restore exec hook, even with
``onError: Continue``, cancels the pending hooks of every other pod in the restore; a failing
init restore container is restarted and its pod never starts. Write ``if [ -f ... ]; then
...; fi``, which exits 0 when the test is false. The last command of loops, ``if`` branches,
``case`` items, ``{ }`` and ``( )`` is followed into.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from postrender.errors import Problem, Severity, warning
from postrender.lint import shell
from postrender.lint.base import RuleView

ID = "restore-exit-status"
SEVERITY = Severity.WARNING
TYPE = "rule"
CONF: dict[str, tuple[type, str]] = {
    "conditions": (list, "commands read as a test whose falseness means nothing to do (comma-separated)"),
}
DEFAULT: dict[str, Any] = {"conditions": ["test", "[", "[["]}

_WHY = {
    "postRestore": "since Velero 1.13 one failed post-restore hook, even with onError: Continue, cancels the "
                   "pending hooks of every other pod in the restore",
    "initRestore": "an init container that exits non-zero is restarted, and the pod never starts",
}


def check(rule: RuleView, conf: Mapping[str, Any]) -> Iterator[Problem]:
    conditions = tuple(str(name) for name in conf["conditions"])
    for script in rule.scripts():
        if script.phase not in _WHY:
            continue
        commands = shell.parse(script.text)
        if commands is None:
            continue
        for found in shell.failing_conditions(commands, conditions):
            test = ("! " if found.negated else "") + found.command.text()
            yield warning(
                f"the script exits 1 when `{test}` is {'true' if found.negated else 'false'} (nothing to restore): "
                f"{_WHY[script.phase]}", script.location(found.command.line),
                f"write `if {test}; then ...; fi`, which exits 0 when there is nothing to do")
