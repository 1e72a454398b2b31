"""A postRestore hook without ``waitTimeout``: Velero may wait for its container for ever.

Velero waits for the hook's container to be running (or ready, with ``waitForReady``) before it
runs a post-restore exec hook. Without ``post.hook.restore.velero.io/wait-timeout`` it waits
without limit: a container that never starts leaves the Restore in its Finalizing phase, and
later restores queue behind it. The wait is counted from the pod's creation, so it includes the
file-system restore of the pod's volumes; when it expires the hook is still attempted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, Mapping

from postrender.errors import Location, Problem, Severity, warning
from postrender.lint.base import RuleView
from postrender.ruleset.model import RestoreHook
from postrender.ruleset.placeholders import PLACEHOLDER

if TYPE_CHECKING:
    from postrender.ruleset.model import Rule

ID = "restore-wait-timeout"
SEVERITY = Severity.WARNING
TYPE = "rule"
CONF: dict[str, tuple[type, str]] = {}
DEFAULT: dict[str, Any] = {}

MESSAGE = ("the postRestore hook has no waitTimeout: Velero waits for its container for ever, and a container "
           "that never starts leaves the Restore stuck in Finalizing")
HINT = "set waitTimeout, e.g. 10m; it counts from the pod's creation, including the file-system restore"


def check(rule: RuleView, conf: Mapping[str, Any]) -> Iterator[Problem]:
    hook = rule.hooks.get("postRestore")
    if hook is None:
        return
    value = hook.get("waitTimeout")
    if isinstance(value, str):  # a placeholder whose value is empty leaves it unset too
        value = PLACEHOLDER.sub(lambda found: rule.values.get(found.group(1), found.group(0)), value).strip()
    if value in (None, ""):
        yield warning(MESSAGE, rule.where("hooks", "postRestore", "waitTimeout") if "waitTimeout" in hook
                      else rule.where("hooks", "postRestore"), HINT)


def missing_wait_timeout(rule: Rule) -> list[Problem]:
    """The same warning for a loaded rule (for ``explain``): empty when every postRestore hook has one."""
    return [warning(MESSAGE, Location(file=rule.source, line=rule.line_of("hooks.postRestore"), rule=rule.name,
                                      field="hooks.postRestore"), HINT)
            for hook in rule.hooks if isinstance(hook, RestoreHook) and not hook.wait_timeout]
