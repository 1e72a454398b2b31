"""``velero-postrender export``: the root command's changes as kustomize patches, for GitOps
tools that apply patches rather than run a post-renderer (Flux, Argo CD, Helmfile).

Both commands run the root command's pipeline (same rules, checks, limits, --strict and
--allow-unmatched) with a patches writer (``postrender.writers.patches``); docs/gitops.md
has the recipes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from postrender.cli.common import limits_of, reader_for, reported, with_options
from postrender.cli.root import rule_inputs, strict_of

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from postrender.pipeline import Run, Writer

app = typer.Typer(
    name="export",
    help="Export the changes the rules make as kustomize patches (Flux, Argo CD, Helmfile).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _run(writer: Writer, *, rules: list[str] | None = None, presets: list[str] | None = None,
         settings: list[str] | None = None, strict: bool = False, allow_unmatched: bool = False,
         file: str | None = None, max_input_bytes: str | None = None, max_alias_expansion: str | None = None,
         max_depth: str | None = None) -> Run:
    """The pipeline with an export writer; the options are those of ``COMMANDS["export ..."]``."""
    # the pipeline only when a command runs: --help and shell completion import this module
    from postrender.errors import print_problems
    from postrender.pipeline import Options, PostRenderer
    from postrender.ruleset.sources import build_ruleset

    limits = limits_of(max_input_bytes, max_alias_expansion, max_depth)
    ruleset = build_ruleset(rule_inputs(rules, presets, settings), limits.max_input_bytes)
    options = Options(strict=strict_of(strict), allow_unmatched=allow_unmatched, limits=limits)
    run = PostRenderer(ruleset, options).run(reader_for(file), writer)
    print_problems(run.warnings)
    return run


@app.command("kustomize")
@reported
@with_options("export kustomize")
def kustomize(
    directory: Annotated[str, typer.Argument(
        metavar="DIR", show_default=False,
        help="The Component directory: kustomization.yaml and one patch file per changed resource.")],
    check: Annotated[bool, typer.Option(
        "--check", help="Write nothing; exit 1 naming every file that differs from what export would write.")] = False,
    **options: Any,
) -> None:
    """Write the changes as a kustomize Component: DIR/kustomization.yaml and one patch per resource.

    The manifests come on stdin (or --file), rendered as the GitOps tool renders them (same
    values, release name and namespace) but without these patches. A kustomization that lists
    them as a resource and DIR as a component builds what the root command writes. Files in
    DIR that export did not write are never touched; patches it wrote that no resource needs
    any more are removed.

    With --check nothing is written: exit 0 when DIR is up to date, 1 naming each file that
    is missing, out of date or stale (run it in CI).

    \b
    Examples:
      helm template shop chart/ -n demo | velero-postrender export kustomize velero-hooks -p postgresql
      helm template shop chart/ -n demo | velero-postrender export kustomize velero-hooks -p postgresql --check
    """
    from postrender.writers.patches import KustomizeWriter  # only when the command runs (see _run)

    writer = KustomizeWriter(Path(directory), check=check)
    _run(writer, **options)
    count = f"{len(writer.patches)} patch{'es' if len(writer.patches) != 1 else ''}"
    if check:
        sys.stderr.write(f"velero-postrender: {directory} is up to date ({count})\n")
    elif writer.changed:
        sys.stderr.write(f"velero-postrender: {directory}: {count}; {len(writer.changed)} files written or removed\n")
    else:
        sys.stderr.write(f"velero-postrender: {directory} was already up to date ({count})\n")


@app.command("flux")
@reported
@with_options("export flux")
def flux(
    **options: Any,
) -> None:
    """Print the changes as the postRenderers list of a Flux HelmRelease (helm.toolkit.fluxcd.io/v2).

    The same patches as 'export kustomize', inline; paste the list under the HelmRelease's
    spec. The manifests come on stdin (or --file), rendered with the HelmRelease's values,
    release name and namespace, without these patches.

    \b
    Examples:
      helm template shop chart/ -n demo | velero-postrender export flux --preset postgresql
    """
    from postrender.writers.patches import FluxWriter  # only when the command runs (see _run)

    _run(FluxWriter(sys.stdout), **options)
