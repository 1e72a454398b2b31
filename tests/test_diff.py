"""``velero-postrender diff``: per resource, semantic only, three formats, colour rules, linear.

The writer is driven through the pipeline (``PostRenderer.run`` with a ``DiffWriter``) and the
command through a real subprocess, as a user runs it."""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path

import pytest
import yaml
from conftest import FIXTURES, run_cli

from postrender.pipeline import Options, PostRenderer
from postrender.ruleset.load import RulesSource, load_ruleset
from postrender.stream.reader import TextReader
from postrender.writers.diff import FORMATS, DiffWriter, changes_of

ANSI = re.compile(r"\x1b\[[0-9;]*m")

RULES = """\
apiVersion: velero-postrender/v1
kind: RuleSet
rules:
  - name: pg
    match:
      kinds: [StatefulSet]
      images: ['(^|/)postgres[:@]']
    hooks:
      preBackup:
        command: [/bin/sync]
"""

# Written as Helm 3 and hand-written charts do: quoted scalars, flow collections, odd indentation,
# comments. Our output writes changed documents in its own style; the diff must show none of that.
QUOTED = """\
---
# Source: app/templates/db.yaml
apiVersion: "apps/v1"
kind: 'StatefulSet'
metadata: {name: "db", namespace: "shop", labels: {app: "db", tier: 'data'}}
spec:
    replicas: 1
    template:
        metadata:
            labels: {app: "db"}
        spec:
            containers:
                -   name: "postgresql"
                    image: "docker.io/postgres:15"
                    args: ["-c", 'max_connections=200']
                    env: [{name: PGDATA, value: "/var/lib/postgresql/data"}]
---
# Source: app/templates/web.yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: "web", namespace: "shop"}
spec:
  template:
    spec:
      containers: [{name: web, image: "nginx:1"}]
"""

LIST = """\
apiVersion: v1
kind: List
items:
  - apiVersion: apps/v1
    kind: StatefulSet
    metadata: {name: one}
    spec: {template: {spec: {containers: [{name: db, image: "postgres:15"}]}}}
  - apiVersion: apps/v1
    kind: StatefulSet
    metadata: {name: cache}
    spec: {template: {spec: {containers: [{name: redis, image: "redis:7"}]}}}
  - apiVersion: apps/v1
    kind: StatefulSet
    metadata: {name: two}
    spec: {template: {spec: {containers: [{name: db, image: "postgres:16"}]}}}
"""


def ruleset():
    return load_ruleset([RulesSource(RULES, "rules.yaml")])


def diff(text: str, output: str = "unified", color: bool = False) -> str:
    out = io.StringIO()
    PostRenderer(ruleset(), Options(allow_unmatched=True)).run(TextReader(text), DiffWriter(out, color, output))
    return out.getvalue()


def write_rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES, encoding="utf-8")
    return path


# --- semantic, per resource ---------------------------------------------------------------

def test_a_resource_header_names_kind_namespace_and_name_and_only_data_changes_show() -> None:
    text = diff(QUOTED)
    lines = text.splitlines()
    assert lines[0] == "--- StatefulSet shop/db (input, document 1)"
    assert lines[1] == "+++ StatefulSet shop/db (output)"
    changed = [line for line in lines[2:] if line[:1] in "+-"]
    assert changed and all(line.startswith("+") for line in changed), changed
    assert all("velero.io/" in line or line.strip() == "+      annotations:" for line in changed), changed
    # the quoting and flow style of the input never show up as changes
    assert "postgres:15" not in "".join(changed) and "max_connections" not in "".join(changed)
    assert "Deployment" not in text  # untouched resources are not listed


def test_the_diff_is_the_difference_of_the_data() -> None:
    """Applying the + and - lines to the normalised input gives the normalised output."""
    run = PostRenderer(ruleset(), Options(allow_unmatched=True)).render(QUOTED)
    [change] = list(changes_of(run))
    assert yaml.safe_load(change.before) == yaml.safe_load(QUOTED.split("---\n")[1])
    assert yaml.safe_load(change.after) == yaml.safe_load(run.output.split("---\n")[1])
    kept = [line[1:] for line in change.diff_lines[2:] if line[:1] in " +" and not line.startswith("@@")]
    assert set(kept) <= set(change.after.splitlines(keepends=True))


def test_items_of_a_list_document_are_separate_resources() -> None:
    text = diff(LIST)
    headers = [line for line in text.splitlines() if line.startswith("--- ")]
    assert headers == ["--- StatefulSet one (input, document 1, List item 1)",
                       "--- StatefulSet two (input, document 1, List item 3)"]
    assert "cache" not in text


def test_only_reformatted_input_shows_nothing(tmp_path: Path) -> None:
    """Rules that change no data: no line on stdout, a note on stderr, exit 0."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES.replace("postgres[:@]", "mysql[:@]"), encoding="utf-8")
    result = run_cli(["diff", "-r", str(rules), "--allow-unmatched"], stdin=QUOTED)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""
    assert b"the rules change nothing" in result.stderr


# --- formats --------------------------------------------------------------------------------

def test_summary_has_one_line_per_changed_resource_with_counts() -> None:
    lines = diff(QUOTED + "---\n" + LIST, "summary").splitlines()
    assert [re.split(r"\s{2,}", line) for line in lines] == [
        ["StatefulSet shop/db", "+4 -0"], ["StatefulSet one", "+5 -0"], ["StatefulSet two", "+5 -0"]]


def test_json_shape() -> None:
    document = json.loads(diff(QUOTED + "---\n" + LIST, "json"))
    assert set(document) == {"version", "input", "changed", "problems"}
    assert document["version"] == 1 and document["input"] == "<input>"
    first = document["changed"][0]
    assert set(first) == {"kind", "namespace", "name", "document", "item", "added", "removed", "diff"}
    assert (first["kind"], first["namespace"], first["name"], first["document"], first["item"]) == (
        "StatefulSet", "shop", "db", 1, None)
    assert first["added"] == first["diff"].count("\n+") - 1 and first["removed"] == 0  # the +++ header is no line
    assert [(c["name"], c["namespace"], c["item"]) for c in document["changed"][1:]] == [("one", None, 0),
                                                                                         ("two", None, 2)]
    assert document["problems"] == []


def test_json_holds_the_warnings(tmp_path: Path) -> None:
    result = run_cli(["diff", "-r", str(write_rules(tmp_path)), "--set", "sizee=1", "-o", "json"], stdin=QUOTED)
    assert result.returncode == 0, result.stderr
    [problem] = json.loads(result.stdout)["problems"]
    assert problem["severity"] == "warning" and "--set sizee" in problem["message"]


def test_json_when_nothing_changes_is_still_a_document(tmp_path: Path) -> None:
    result = run_cli(["diff", "-r", str(write_rules(tmp_path)), "--allow-unmatched", "-o", "json"],
                     stdin=QUOTED.replace("postgres:15", "mysql:8"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["changed"] == []


@pytest.mark.parametrize("output", FORMATS)
def test_every_format_from_the_command_line(tmp_path: Path, output: str) -> None:
    result = run_cli(["diff", "-r", str(write_rules(tmp_path)), "--output", output], stdin=QUOTED)
    assert result.returncode == 0, result.stderr
    assert b"StatefulSet" in result.stdout and b"Deployment" not in result.stdout


def test_an_unknown_format_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli(["diff", "-r", str(write_rules(tmp_path)), "-o", "side-by-side"], stdin=QUOTED)
    assert result.returncode == 2 and result.stdout == b""


# --- colour ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "env", "coloured"), [
    ([], {}, False),  # auto, and stdout is a pipe
    (["--color", "always"], {}, True),
    (["--color", "always"], {"NO_COLOR": "1"}, True),  # an explicit request wins
    (["--color", "never"], {}, False),
    (["--color", "auto"], {"NO_COLOR": "1"}, False),
])
def test_colour_only_on_request_or_a_terminal(tmp_path: Path, args: list[str], env: dict[str, str],
                                              coloured: bool) -> None:
    for output in ("unified", "summary"):
        result = run_cli(["diff", "-r", str(write_rules(tmp_path)), "-o", output, *args], stdin=QUOTED, env=env)
        assert result.returncode == 0, result.stderr
        assert bool(ANSI.search(result.stdout.decode())) is coloured, (output, args, env)


def test_colours_of_a_unified_diff() -> None:
    text = diff(QUOTED, color=True)
    assert text.startswith("\x1b[1m--- StatefulSet shop/db (input, document 1)\x1b[0m\n")
    assert "\x1b[36m@@ " in text and "\x1b[32m+" in text
    assert ANSI.sub("", text) == diff(QUOTED)


# --- linear -----------------------------------------------------------------------------------

def test_a_large_stream_is_diffed_in_linear_time(tmp_path: Path) -> None:
    """About 11 MiB (the helm3 fixtures 20 times, renamed per copy) with 60 changed
    resources: the per-resource diff takes about as long as the root command (a diff of the whole
    stream, difflib over every line, is not linear)."""
    corpus = "".join(path.read_text() for path in sorted((FIXTURES / "helm3").glob("*.yaml")))
    stream = "".join(corpus.replace("rel-", f"r{copy}-") for copy in range(20))
    path = tmp_path / "stream.yaml"
    path.write_text(stream)
    args = ["--preset", "postgresql", "--preset", "mysql", "--allow-unmatched", "--max-input-bytes", "1Gi"]
    started = time.monotonic()
    root = run_cli([*args], stdin=path.read_bytes())
    root_seconds = time.monotonic() - started
    assert root.returncode == 0, root.stderr
    started = time.monotonic()
    result = run_cli(["diff", *args, "-f", str(path), "-o", "summary"])
    diff_seconds = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 3 * 20
    assert diff_seconds < 4 * root_seconds + 10, (diff_seconds, root_seconds)
