"""Every option of the command line, defined once: spellings, help, kind, completion.

Two readers build on this table and nothing else:

- ``postrender.cli.fast`` parses the root command's options without importing Typer (Helm
  runs the root command on every install, upgrade and diff, and Typer costs start-up time);
- ``postrender.cli.common.with_options`` turns the same entries into the Typer parameters of
  the root command and of the subcommands that take them, so ``--help``, error messages and
  shell completion come from here too.

``COMMANDS`` says which command takes which option. The ``name`` of an option is the keyword
the command's function receives (for the root command, the keyword of ``run_root``). The
environment variables are read by the run itself (``RuleInputs.with_environment``,
``Limits.from_settings``), not by the parser: the table only names them in the help.

This module is on the root command's start-up path: no Typer, no typing at run time.
"""

from __future__ import annotations

VALUE = "value"  # one value; given twice, the last one wins (Typer) or Typer decides (fast path)
REPEATED = "repeated"  # one value each time; every value is kept, in order
SWITCH = "switch"  # no value: present or not
CHOICE = "choice"  # one of ``choices``
HELP = "help"  # print the command's help (Click's own option; every command has it)

FILES = "files"  # complete with the shell's file names
PRESETS = "presets"  # complete with the names of the shipped presets


class Option:
    """One option, immutable. ``flags`` are its spellings, the long one first.

    A plain class rather than a frozen dataclass: creating a dataclass costs start-up time
    that Helm pays on every call, and this one is on that path.
    """

    __slots__ = ("name", "flags", "help", "kind", "metavar", "env", "choices", "default", "complete", "eager")
    name: str
    flags: tuple[str, ...]
    help: str
    kind: str
    metavar: str
    env: str  # the environment variable the run reads when the option is absent
    choices: tuple[str, ...]
    default: str | None  # of a CHOICE
    complete: str  # FILES, PRESETS, or nothing (a CHOICE completes with its choices)
    eager: bool  # acts during parsing and exits (--version, --show-completion)

    def __init__(self, name: str, flags: tuple[str, ...], help: str, kind: str = VALUE, metavar: str = "",
                 env: str = "", choices: tuple[str, ...] = (), default: str | None = None, complete: str = "",
                 eager: bool = False) -> None:
        values = (name, flags, help, kind, metavar, env, choices, default, complete, eager)
        for slot, value in zip(self.__slots__, values, strict=True):
            object.__setattr__(self, slot, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"an Option is immutable (setting {name!r})")

    def __repr__(self) -> str:
        return f"Option({self.name!r}, {self.flags!r}, kind={self.kind!r})"

    @property
    def help_text(self) -> str:
        return f"{self.help} Env: {self.env}." if self.env else self.help

    @property
    def takes_value(self) -> bool:
        return self.kind in (VALUE, REPEATED, CHOICE)


SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")

OPTIONS: tuple[Option, ...] = (
    Option("rules", ("--rules", "-r"), "Rules file (repeatable).", REPEATED, "FILE",
           env="VELERO_POSTRENDER_RULES", complete=FILES),
    Option("presets", ("--preset", "-p"), "Shipped preset (repeatable; 'velero-postrender presets' lists them).",
           REPEATED, "NAME", env="VELERO_POSTRENDER_PRESETS", complete=PRESETS),
    Option("settings", ("--set", "-s"), "Value of a {{ KEY }} placeholder (repeatable).", REPEATED, "KEY=VALUE",
           env="VELERO_POSTRENDER_SET"),
    Option("strict", ("--strict",), "Every warning is an error (a rule that matches nothing, an unused --set key...).",
           SWITCH, env="VELERO_POSTRENDER_STRICT"),
    Option("allow_unmatched", ("--allow-unmatched",), "Succeed even when no rule matches any resource.", SWITCH),
    Option("max_input_bytes", ("--max-input-bytes",), "Refuse a larger input (default 16Mi).", VALUE, "SIZE",
           env="VELERO_POSTRENDER_MAX_INPUT_BYTES"),
    Option("max_alias_expansion", ("--max-alias-expansion",),
           "Refuse YAML aliases expanding to more nodes (default 10000).", VALUE, "NODES",
           env="VELERO_POSTRENDER_MAX_ALIAS_EXPANSION"),
    Option("max_depth", ("--max-depth",), "Refuse deeper nesting (default 200).", VALUE, "LEVELS",
           env="VELERO_POSTRENDER_MAX_DEPTH"),
    Option("velero_policy", ("--velero-policy",), "A Velero resource-policies document (ConfigMap or bare YAML): "
           "report the scratch and backupVolumes volumes its volume policies would skip (with --strict: errors).",
           VALUE, "FILE", complete=FILES),
    Option("file", ("--file", "-f"), "Read the manifests from FILE instead of stdin ('-' is stdin).", VALUE, "FILE",
           complete=FILES),
    Option("output", ("--output", "-o"), "Output format: text for people, or json: one JSON document for programs.", CHOICE,
           "FORMAT", choices=("text", "json"), default="text"),
    Option("diff_output", ("--output", "-o"), "Diff format: unified (per resource), summary (a line each) or json.",
           CHOICE, "FORMAT", choices=("unified", "summary", "json"), default="unified"),
    Option("color", ("--color",), "Colour: auto (a terminal without NO_COLOR), always or never.", CHOICE, "WHEN",
           choices=("auto", "always", "never"), default="auto"),
    Option("wide", ("--wide", "-w"), "Show annotation values in full.", SWITCH),
    Option("version", ("--version", "-V"), "Print the version and exit.", SWITCH, eager=True),
    Option("show_completion", ("--show-completion",), "Print the shell completion script for SHELL and exit.",
           CHOICE, "SHELL", choices=SHELLS, eager=True),
    Option("install_completion", ("--install-completion",),
           "Install shell completion for SHELL (in its start-up file) and exit.", CHOICE, "SHELL", choices=SHELLS,
           eager=True),
    Option("help", ("--help", "-h"), "Show this message and exit.", HELP),
)

ROOT = ""  # the root command's name in COMMANDS
LIMITS = ("max_input_bytes", "max_alias_expansion", "max_depth")
RULES = ("rules", "presets", "settings")

COMMANDS: dict[str, tuple[str, ...]] = {
    ROOT: (*RULES, "strict", "allow_unmatched", *LIMITS, "velero_policy", "version", "show_completion",
           "install_completion"),
    "explain": (*RULES, "file", "output", "color", "wide", *LIMITS, "velero_policy"),
    "diff": (*RULES, "strict", "allow_unmatched", "file", "diff_output", "color", *LIMITS, "velero_policy"),
    "export kustomize": (*RULES, "strict", "allow_unmatched", "file", *LIMITS),
    "export flux": (*RULES, "strict", "allow_unmatched", "file", *LIMITS),
}


def option(name: str) -> Option:
    """The option called ``name`` (a KeyError names a typo in a command's list)."""
    for entry in OPTIONS:
        if entry.name == name:
            return entry
    raise KeyError(name)


def options_of(command: str) -> tuple[Option, ...]:
    return tuple(option(name) for name in COMMANDS[command])


def run_options() -> tuple[Option, ...]:
    """The root command's options that fill a keyword of ``run_root`` (not --version and the like)."""
    return tuple(entry for entry in options_of(ROOT) if not entry.eager)
