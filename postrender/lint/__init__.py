"""Static checks of rules files, one module per check; this module is only their registry.

Each check module declares ``ID``, ``SEVERITY``, ``TYPE``, ``CONF``, ``DEFAULT``, a docstring and
``check(item, conf)`` (see ``postrender.lint.base``). The registry is a fixed list, written out
here, so that no code is ever imported by name at run time; a test checks that it lists every
check module of this folder. ``postrender.lint.run`` runs them.
"""

from __future__ import annotations

from postrender.lint import (
    empty_rules,
    hook_container,
    quoted_placeholder,
    restore_exit_status,
    restore_wait_timeout,
    scratch_unmounted,
    shell_syntax,
    velero_policy,
)
from postrender.lint.base import Check, describe

CHECK_MODULES = (
    empty_rules,
    hook_container,
    scratch_unmounted,
    shell_syntax,
    quoted_placeholder,
    restore_exit_status,
    restore_wait_timeout,
    velero_policy,
)
# the modules of this folder that are not checks
SUPPORT_MODULES = ("base", "run", "shell")

CHECKS: tuple[Check, ...] = tuple(describe(module) for module in CHECK_MODULES)
CHECKS_BY_ID = {check.id: check for check in CHECKS}
