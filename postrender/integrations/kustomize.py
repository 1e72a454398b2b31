"""kustomize exec transformer plugin: ``kubectl kustomize --enable-alpha-plugins``.

A kustomization lists a transformer resource of this project's own kind::

    apiVersion: velero-postrender.io/v1
    kind: VeleroHooks
    metadata: {name: backup-hooks}
    rulesFiles: [velero-rules.yaml]    # relative to the kustomization directory
    presets: [postgresql]
    set: {scratchSize: 2Gi}            # like --set
    strict: false                      # like --strict
    allowUnmatched: false              # like --allow-unmatched
    params: {...}                      # with rules: an inline RuleSet (same format as a file)
    rules: [...]

kustomize runs the executable ``<plugin home>/velero-postrender.io/v1/velerohooks/VeleroHooks``
with the path of a file holding that resource as its only argument, the resources on stdin
(each with a ``kustomize.config.k8s.io/id`` annotation, which the pipeline keeps like any other
field) and the kustomization directory as working directory and in
``KUSTOMIZE_PLUGIN_CONFIG_ROOT``. The work is the command line's: ``RuleInputs`` and
the pipeline. The ``VELERO_POSTRENDER_*`` environment variables are deliberately not read:
a kustomization should build the same on every machine.

``python -m postrender.integrations.kustomize --install`` writes that executable for the current Python.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import yaml

from postrender.errors import Location, PostRenderError, Problem, UsageError, error, print_problems
from postrender.limits import DEFAULT_LIMITS
from postrender.pipeline import Options, PostRenderer
from postrender.ruleset.sources import RuleInputs, build_ruleset
from postrender.stream.reader import StdinReader, read_file
from postrender.writers.stream import StreamWriter

if TYPE_CHECKING:
    from postrender.pipeline import Writer
    from postrender.stream.reader import Reader

API_VERSION = "velero-postrender.io/v1"
KIND = "VeleroHooks"
GROUP, VERSION = API_VERSION.split("/")
KNOWN_FIELDS = {"apiVersion", "kind", "metadata", "rulesFiles", "presets", "set", "strict", "allowUnmatched",
                "params", "rules"}


@dataclass(frozen=True)
class TransformerConfig:
    """What one VeleroHooks resource asks for."""

    name: str
    rules_files: tuple[str, ...] = ()
    presets: tuple[str, ...] = ()
    settings: tuple[str, ...] = ()
    inline: tuple[Mapping[str, Any], ...] = ()
    strict: bool = False
    allow_unmatched: bool = False
    where: str = ""  # how messages name this resource: "VeleroHooks NAME in kustomization DIR"


def plugin_home(environ: Mapping[str, str] | None = None) -> Path:
    """Where kustomize looks for plugins: ``$KUSTOMIZE_PLUGIN_HOME``, else ``$XDG_CONFIG_HOME/kustomize/plugin``."""
    env = os.environ if environ is None else environ
    if env.get("KUSTOMIZE_PLUGIN_HOME"):
        return Path(env["KUSTOMIZE_PLUGIN_HOME"])
    config = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "kustomize" / "plugin"


def executable_path(environ: Mapping[str, str] | None = None) -> Path:
    return plugin_home(environ) / GROUP / VERSION / KIND.lower() / KIND


def _strings(value: Any, field: str, where: str, problems: list[Problem]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        problems.append(error("must be a list of non-empty strings", Location(file=where, field=field)))
        return ()
    return tuple(value)


def _text(value: Any) -> str:
    """A ``set:`` value as ``--set`` would carry it (YAML ``false`` is the word ``false``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _flag(data: Mapping[str, Any], field: str, where: str, problems: list[Problem]) -> bool:
    value = data.get(field, False)
    if not isinstance(value, bool):
        problems.append(error("must be true or false", Location(file=where, field=field)))
        return False
    return value


def parse_config(data: Any, where: str, root: Path) -> TransformerConfig:
    """Check a VeleroHooks resource; relative ``rulesFiles`` resolve against ``root``.

    ``where`` names the resource's origin in messages: the kustomization, never the temporary
    file kustomize hands the plugin (the user cannot open that one)."""
    if not isinstance(data, dict):
        raise PostRenderError([error(f"the transformer config must be a {KIND} mapping", Location(file=where))])
    problems: list[Problem] = []
    raw_metadata = data.get("metadata")
    metadata = raw_metadata if isinstance(raw_metadata, dict) else {}
    name = str(metadata.get("name") or KIND)
    where = f"{KIND} {name} in {where}"
    if data.get("apiVersion") != API_VERSION or data.get("kind") != KIND:
        problems.append(error(f"expected apiVersion: {API_VERSION} and kind: {KIND}, got "
                              f"{data.get('apiVersion')!r} / {data.get('kind')!r}", Location(file=where)))
    for unknown in sorted(set(map(str, data)) - KNOWN_FIELDS):
        problems.append(error("unknown field", Location(file=where, field=unknown),
                              f"known: {', '.join(sorted(KNOWN_FIELDS))}"))
    files = _strings(data.get("rulesFiles"), "rulesFiles", where, problems)
    presets = _strings(data.get("presets"), "presets", where, problems)
    raw_set = data.get("set") or {}
    if not isinstance(raw_set, dict):
        problems.append(error("must be a mapping of parameter names to values", Location(file=where, field="set")))
        raw_set = {}
    settings = tuple(f"{key}={_text(value)}" for key, value in raw_set.items())
    inline: tuple[Mapping[str, Any], ...] = ()
    if "rules" in data or "params" in data:
        ruleset: dict[str, Any] = {"apiVersion": "velero-postrender/v1", "kind": "RuleSet"}
        if "params" in data:
            ruleset["params"] = data["params"]
        ruleset["rules"] = data.get("rules")
        inline = (ruleset,)
    strict = _flag(data, "strict", where, problems)
    allow_unmatched = _flag(data, "allowUnmatched", where, problems)
    if problems:
        raise PostRenderError(problems)
    resolved = tuple(str(root / path) if not os.path.isabs(path) else path for path in files)
    return TransformerConfig(name, resolved, presets, settings, inline, strict, allow_unmatched, where)


def transform(config: TransformerConfig, reader: Reader, writer: Writer) -> list[Problem]:
    """Run the pipeline for one VeleroHooks resource; the warnings; raises like the command line."""
    inputs = RuleInputs(config.rules_files, config.presets, config.settings, config.inline,
                        inline_name=config.where or f"{KIND} {config.name}")
    if inputs.empty:
        raise UsageError(f"{KIND} {config.name}: give rules, rulesFiles or presets")
    ruleset = build_ruleset(inputs)
    run = PostRenderer(ruleset, Options(strict=config.strict, allow_unmatched=config.allow_unmatched)).run(reader, writer)
    return run.warnings


def run(config_path: str) -> int:
    """One plugin run: config file in argv, resources on stdin, resources on stdout."""


    root = Path(os.environ.get("KUSTOMIZE_PLUGIN_CONFIG_ROOT") or os.getcwd())
    where = f"kustomization {root}"  # config_path is kustomize's temporary copy: never name it
    try:
        try:
            text = read_file(config_path, DEFAULT_LIMITS.max_input_bytes, f"{KIND} config")
            data = yaml.safe_load(text)
        except PostRenderError as exc:
            raise PostRenderError([replace(p, location=replace(p.location, file=where)) for p in exc.problems]) from None
        except yaml.YAMLError as exc:
            raise PostRenderError([error(f"cannot read the {KIND} config: {_yaml_problem(exc)}",
                                         Location(file=where))]) from None
        config = parse_config(data, where, root)
        warnings = transform(config, StdinReader(hint=False), StreamWriter(sys.stdout.buffer, helm4=False))
    except PostRenderError as exc:
        print_problems(exc.problems)
        return 1
    except UsageError as exc:
        print_problems([error(str(exc))])
        return 2
    print_problems(warnings)
    return 0


def _yaml_problem(exc: Exception) -> str:
    """PyYAML's reason on one line (it spreads it over several, with the text's name)."""
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if problem and mark is not None:
        return f"{problem} (line {mark.line + 1} of the config as kustomize passed it)"
    return " ".join(str(exc).split())


def install(python: str = sys.executable, environ: Mapping[str, str] | None = None) -> Path:
    """Write the plugin executable: a two-line script that runs this module with ``python``."""
    target = executable_path(environ)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        "#!/bin/sh\n"
        f"# kustomize exec transformer for {API_VERSION} {KIND}\n"
        "# written by: python -m postrender.integrations.kustomize --install\n"
        f"exec {shlex.quote(python)} -m postrender.integrations.kustomize \"$@\"\n",
        encoding="utf-8",
    )
    target.chmod(0o755)
    return target


USAGE = f"""usage: python -m postrender.integrations.kustomize CONFIG_FILE   (as kustomize runs it)
       python -m postrender.integrations.kustomize --install        (write {executable_path()})
       python -m postrender.integrations.kustomize --path           (print where kustomize looks for it)
"""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--install"]:
        print(f"installed {install()}")
        return 0
    if args == ["--path"]:
        print(executable_path())
        return 0
    if len(args) != 1 or args[0].startswith("-"):
        sys.stderr.write(USAGE)
        return 0 if args in (["-h"], ["--help"]) else 2
    return run(args[0])


if __name__ == "__main__":
    sys.exit(main())
