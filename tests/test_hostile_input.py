"""Hostile and odd input: what must be accepted is processed correctly and
loses nothing; what must be refused fails closed (exit 1, nothing on stdout, a located
message, no traceback); nothing in a manifest or a rules file is ever executed."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, run_cli

from postrender.api import render
from postrender.errors import Location, PostRenderError, error
from postrender.limits import DEFAULT_LIMITS, Limits
from postrender.ruleset.yamlfile import RulesLoader
from postrender.stream.emit import ManifestDumper
from postrender.stream.parse import ManifestLoader, UnsharingLoader, parse_document, screen_document
from postrender.stream.split import split

RULES = {
    "apiVersion": "velero-postrender/v1",
    "kind": "RuleSet",
    "rules": [{
        "name": "db",
        "match": {"kinds": ["StatefulSet"]},
        "scratch": {"mountPath": "/scratch"},
        "hooks": {"preBackup": {"command": ["/bin/sh", "-c", "echo dump > /scratch/x"]}},
    }],
}
HOOK = "pre.hook.backup.velero.io/command"

STATEFULSET = """\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {name}
spec:
  template:
    metadata:
      labels: {{app: db}}
    spec:
      containers:
        - name: db
          image: postgres:16
"""
CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  greeting: "hello"   # a comment that must survive
"""


def sts(name: str = "db") -> str:
    return STATEFULSET.format(name=name)


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(RULES, sort_keys=False))
    return path


def changed(text: str) -> str:
    """Render with the StatefulSet rule through the library."""
    return render(text, [RULES]).text


def annotations_of(document_text: str) -> dict:
    return yaml.safe_load(document_text)["spec"]["template"]["metadata"]["annotations"]


# --- accepted and processed correctly ----------------------------------------------------


def test_crlf_line_endings_are_kept_everywhere():
    text = ("# Source: chart/templates/sts.yaml\n---\n" + sts() + "---\n" + CONFIGMAP).replace("\n", "\r\n")
    out = changed(text)
    assert "\r\n" in out and "\n" not in out.replace("\r\n", "")
    docs = split(out)
    assert docs[0].text.startswith("# Source: chart/templates/sts.yaml\r\n---\r\n")
    assert HOOK in annotations_of(docs[0].text)
    assert docs[1].text == split(text)[1].text  # unchanged document: byte for byte


@pytest.mark.parametrize("prefix", ["", "---\n", "# Source: x.yaml\n---\n"])
def test_a_utf8_bom_is_accepted_and_kept(prefix, rules_file):
    text = "\ufeff" + prefix + sts() + "---\n" + CONFIGMAP
    result = run_cli(["--rules", str(rules_file)], text.encode("utf-8"))
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode("utf-8")
    assert out.startswith("\ufeff" + prefix)
    docs = split(out)
    assert len(docs) == 2
    assert HOOK in annotations_of(docs[0].text.lstrip("\ufeff"))
    assert docs[1].text == "---\n" + CONFIGMAP


def test_separators_with_trailing_comments():
    text = "--- # first\n" + sts("a") + "--- # second one\n" + CONFIGMAP + "---   # third\n" + sts("b")
    out = changed(text)
    assert out.startswith("--- # first\n")
    assert "--- # second one\n" + CONFIGMAP in out
    assert "---   # third\n" in out
    assert [HOOK in annotations_of(d.text) for d in split(out) if "StatefulSet" in d.text] == [True, True]


def test_document_end_markers():
    text = "---\n" + sts("a") + "...\n---\n" + CONFIGMAP + "...\n" + sts("b") + "...\n"
    out = changed(text)
    docs = split(out)
    assert len(docs) == 3
    assert docs[0].text.endswith("...\n") and docs[2].text.endswith("...\n")
    assert docs[1].text == "---\n" + CONFIGMAP + "...\n"
    assert HOOK in annotations_of(docs[2].text)


def test_a_yaml_directive():
    text = "%YAML 1.1\n---\n" + sts("a") + "...\n%YAML 1.1\n---\n" + sts("b")
    out = changed(text)
    assert out.startswith("%YAML 1.1\n---\n")
    assert "...\n%YAML 1.1\n---\n" in out
    assert len(split(out)) == 2
    assert all(HOOK in annotations_of(d.text.split("---\n", 1)[1]) for d in split(out))


def test_comment_only_and_empty_documents_are_kept_in_place():
    text = "---\n---\n# only a comment\n---\n" + sts() + "---\n\n---\n# trailing\n"
    out = changed(text)
    before, after = split(text), split(out)
    assert len(after) == len(before) == 5
    for index in (0, 1, 3, 4):
        assert after[index].text == before[index].text
    assert HOOK in annotations_of(after[2].text)


def test_kind_list_items_are_matched_like_top_level_resources():
    items = "".join("  " + line + "\n" if line else "\n" for line in sts("in-list").splitlines())
    text = "apiVersion: v1\nkind: List\nitems:\n" + items.replace("  apiVersion", "- apiVersion", 1) + "- " + (
        CONFIGMAP.replace("\n", "\n  ").rstrip() + "\n")
    data = yaml.safe_load(changed(text))
    assert data["kind"] == "List" and len(data["items"]) == 2
    assert HOOK in data["items"][0]["spec"]["template"]["metadata"]["annotations"]
    assert data["items"][1]["data"] == {"greeting": "hello"}


def test_block_scalars_with_lines_of_dashes():
    """Helm 4.1.4 broke on these (bitnami redis-cluster): they are content, not separators."""
    script = ("          env:\n            - name: BANNER\n              value: |\n                ---\n"
              "                ----------\n                --- x\n")
    text = sts().rstrip("\n") + "\n" + script + "---\n" + CONFIGMAP + "  motd: |\n    ---\n    --- # not a marker\n"
    out = changed(text)
    docs = split(out)
    assert len(docs) == 2
    data = yaml.safe_load(docs[0].text)
    assert data["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] == "---\n----------\n--- x\n"
    assert HOOK in annotations_of(docs[0].text)
    assert docs[1].text == split(text)[1].text


def test_very_long_lines_are_never_wrapped():
    long_value = "x" * 200_000
    text = sts().replace("  name: db\n", f"  name: db\n  annotations:\n    long: {long_value}\n", 1)
    out = changed(text)
    assert f"    long: {long_value}\n" in out
    assert HOOK in annotations_of(out)


def test_unicode_names_and_values():
    text = sts("datenbank-ü").replace("labels: {app: db}", "labels: {app: db, note: 日本語}") + "---\n" + CONFIGMAP.replace(
        "hello", "grüß dich ✓")
    out = changed(text)
    assert "name: datenbank-ü" in out and "note: 日本語" in out
    assert split(out)[1].text == split(text)[1].text


ODD_SCALARS = """\
    quoted-on: "on"
    quoted-yes: 'yes'
    quoted-octal: "0755"
    quoted-number: "42"
"""
PLAIN_ODD = {
    "mode: 0755": 493, "hex: 0x1F": 31, "flag: yes": True, "switch: on": True, "off-switch: Off": False,
    "tilde: ~": None, "empty:": None, "upper: TRUE": True, "under: 1_000": 1000, "sexagesimal: 1:30": 90,
    "float: 1.10": 1.1,
}


def test_quoted_numbers_and_yaml11_booleans_are_kept_in_a_changed_document():
    odd = "".join(f"    {line}\n" for line in PLAIN_ODD)
    text = sts().replace("  name: db\n", "  name: db\n  labels:\n" + ODD_SCALARS + "  extra:\n" + odd
                         + "  list: [0755, yes, ~, plain]\n", 1)
    out = changed(text)
    assert HOOK in annotations_of(out)
    data = yaml.safe_load(out)
    labels = data["metadata"]["labels"]
    assert labels == {"quoted-on": "on", "quoted-yes": "yes", "quoted-octal": "0755", "quoted-number": "42"}
    assert all(isinstance(v, str) for v in labels.values())
    for line, value in PLAIN_ODD.items():
        assert f"    {line}\n" in out  # written back as it was written
        key = line.split(":", 1)[0]
        assert data["metadata"]["extra"][key] == value and type(data["metadata"]["extra"][key]) is type(value)
    assert "- 0755\n" in out and "- yes\n" in out and "- ~\n" in out


def test_odd_scalars_load_as_plain_values_for_matching():
    """The source forms live beside the data: the values are exactly what a YAML 1.1 reader gets,
    and keys what the API server's JSON holds (``on:`` is the key ``"true"``)."""
    text = "a: 0755\nb: yes\nc: [on, ~, 0x1F]\non: key\nd: '0755'\n"
    document = split(text)[0]
    assert parse_document(document) is None
    expected = yaml.safe_load(text)
    expected["true"] = expected.pop(True)
    assert document.data == expected
    assert [type(v) for v in document.data["c"]] == [bool, type(None), int]


def test_a_non_canonical_key_is_kept():
    text = sts().replace("  name: db\n", "  name: db\n  annotations:\n    on: push\n", 1)
    out = changed(text)
    assert "    on: push\n" in out


def test_an_aliased_pod_template_metadata_is_unshared_before_the_merge():
    """An alias shares one object: the hook must not leak into the workload's own metadata."""
    text = sts().replace("metadata:\n  name: db\n", "metadata: &meta\n  name: db\n  labels: {app: db}\n", 1).replace(
        "    metadata:\n      labels: {app: db}\n", "    metadata: *meta\n", 1)
    out = changed(text)
    data = yaml.safe_load(out)
    assert "annotations" not in data["metadata"]
    assert HOOK in data["spec"]["template"]["metadata"]["annotations"]
    assert "&" not in out and "*" not in out.replace("*meta", "")  # written expanded, no &id001


def test_aliases_within_the_budget_are_accepted():
    text = CONFIGMAP + "  base: &b {x: 1, y: 2}\n  again: *b\n  merged:\n    <<: *b\n    z: 3\n"
    result = render(text, [RULES], allow_unmatched=True)
    assert result.text == text


# --- refused: exit 1, nothing on stdout, a located message, no traceback --------------------


def refused(rules_file: Path, stdin: bytes | str, *args: str, env: dict[str, str] | None = None) -> str:
    result = run_cli(["--rules", str(rules_file), *args], stdin, env)
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 1, stderr
    assert result.stdout == b""
    assert "Traceback" not in stderr
    assert stderr.startswith("error: ")
    return stderr


def test_malformed_yaml(rules_file):
    stderr = refused(rules_file, sts() + "---\n" + CONFIGMAP + "  broken: [1, 2\n")
    assert "document 2" in stderr and "line " in stderr and "malformed YAML" in stderr


def test_tab_indentation(rules_file):
    stderr = refused(rules_file, "---\n" + sts().replace("  name: db", "\tname: db"))
    assert "document 1 (line 5)" in stderr


def test_non_utf8_bytes(rules_file):
    stderr = refused(rules_file, sts().encode() + b"---\n" + CONFIGMAP.replace("hello", "caf\xe9").encode("latin-1"))
    assert "not UTF-8" in stderr and "<stdin>:" in stderr and "0xe9" in stderr


@pytest.mark.parametrize("body, what", [
    ("- a\n- b\n", "list"),
    ("just a string\n", "str"),
    ("42\n", "int"),
])
def test_a_document_that_is_not_a_mapping(rules_file, body, what):
    stderr = refused(rules_file, sts() + "---\n" + body)
    assert f"document 2 (line 14): document is not a mapping but a {what}" in stderr


@pytest.mark.parametrize("body, message", [
    ("apiVersion: v1\nmetadata: {name: x}\n", "resource has no kind"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {namespace: x}\n", "resource has no metadata.name"),
    ("apiVersion: v1\nkind: ConfigMap\n", "resource has no metadata"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: [a]\n", "metadata that is a list"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: 0755}\n", "metadata.name is not a string but a int"),
    ("apiVersion: v1\nkind: [a]\nmetadata: {name: x}\n", "kind is not a string"),
])
def test_a_resource_without_kind_or_name(rules_file, body, message):
    stderr = refused(rules_file, sts() + "---\n" + body)
    assert "document 2" in stderr and message in stderr


@pytest.mark.parametrize("tag", [
    "!!python/object/apply:os.system ['touch {marker}']",
    "!!python/object/new:os.system ['touch {marker}']",
    "!!python/name:os.system",
    "!!python/object:builtins.object {{}}",
    "!custom {{a: 1}}",
])
def test_tags_that_would_construct_objects_are_refused_in_manifests(rules_file, tmp_path, tag):
    marker = tmp_path / "executed"
    body = CONFIGMAP + "  payload: " + tag.format(marker=marker) + "\n"
    stderr = refused(rules_file, sts() + "---\n" + body)
    assert "document 2 (line 20): tag " in stderr and "is not allowed" in stderr
    assert not marker.exists()


def test_a_tag_directive_cannot_smuggle_a_python_tag(rules_file, tmp_path):
    marker = tmp_path / "executed"
    text = f"%TAG !p! tag:yaml.org,2002:python/\n---\n{CONFIGMAP}  payload: !p!object/apply:os.system ['touch {marker}']\n"
    stderr = refused(rules_file, text)
    assert "document 1 (line 9): tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed" in stderr
    assert not marker.exists()


def test_tags_that_would_construct_objects_are_refused_in_rules(tmp_path):
    marker = tmp_path / "executed"
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(RULES, sort_keys=False).replace(
        "name: db", f"name: !!python/object/apply:os.system ['touch {marker}']", 1))
    stderr = refused(rules, sts())
    assert f"{rules}:4: tag" in stderr and "rules files are data only" in stderr
    assert not marker.exists()


@pytest.mark.parametrize("value, message", [
    ("!!timestamp z", "invalid !!timestamp value 'z'"),
    ("!!bool maybe", "invalid !!bool value 'maybe'"),
    ("!!int x", "invalid literal for int()"),
    ("!!float x", "could not convert string to float"),
    ("!!set [1]", "'set' needs a mapping node, not a sequence"),
    ("!!omap {a: 1}", "'omap' needs a sequence node, not a mapping"),
    ("!!binary aGk", "invalid !!binary value: not base64"),
    ("!!timestamp 2001-02-03T10:00:00", "invalid !!timestamp value '2001-02-03T10:00:00'"),
    ("{<<: 1}", "a merge key (<<) needs a mapping or a list of mappings"),
    ("{~: 1}", "found a null key"),
    ("!!binary [1]", "expected a scalar node"),
    ('!!timestamp "2001-02-30"', "invalid !!timestamp value '2001-02-30'"),
    ("{[a]: 1}", "found unhashable key"),
])
def test_standard_tags_with_invalid_values_are_located_problems(rules_file, value, message):
    stderr = refused(rules_file, sts() + "---\n" + CONFIGMAP + f"  bad: {value}\n")
    assert "document 2 (line " in stderr and message in stderr


def test_a_plain_value_that_looks_like_an_impossible_date_is_a_string():
    """``2001-02-30`` is no date: like Kubernetes' YAML reader, read it as a string (kept as written)."""
    text = sts().replace("  name: db\n", "  name: db\n  annotations: {released: 2001-02-30, day: 2001-02-03}\n", 1)
    out = changed(text)
    assert "    released: 2001-02-30\n" in out and "    day: 2001-02-03\n" in out


def test_duplicate_keys_in_rules_files(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("apiVersion: velero-postrender/v1\nkind: RuleSet\nrules:\n  - name: db\n    match:\n"
                     "      kinds: [StatefulSet]\n      kinds: [Deployment]\n"
                     "    hooks: {preBackup: {command: [/bin/true]}}\n")
    stderr = refused(rules, sts())
    assert f"{rules}:7: duplicate key 'kinds'" in stderr


def test_duplicate_keys_in_manifests(rules_file):
    """One of the two values would be lost in a changed document; Kubernetes refuses them too."""
    stderr = refused(rules_file, sts().replace("  name: db\n", "  name: db\n  name: other\n", 1))
    assert "document 1 (line 5)" in stderr and "duplicate key 'name'" in stderr


def billion_laughs(levels: int = 10) -> str:
    lines = ['  l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        lines.append(f"  l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    return CONFIGMAP + "\n".join(lines) + "\n"


def test_billion_laughs_is_refused(rules_file):
    stderr = refused(rules_file, sts() + "---\n" + billion_laughs())
    assert "document 2" in stderr and "--max-alias-expansion" in stderr and "billion laughs" in stderr


def test_billion_laughs_is_refused_with_little_memory():
    """The expansion is measured on the event stream: nothing is expanded, nothing is built."""
    tracemalloc.start()
    try:
        with pytest.raises(PostRenderError) as caught:
            render(sts() + "---\n" + billion_laughs(30), [RULES])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "billion laughs" in str(caught.value)
    assert peak < 4 * 1024 * 1024


def test_a_recursive_alias_is_refused(rules_file):
    stderr = refused(rules_file, "apiVersion: v1\nkind: ConfigMap\nmetadata: &m {name: x, labels: *m}\n")
    assert "a recursive structure" in stderr and "line 3" in stderr


def test_deep_nesting_is_refused_without_crashing(rules_file):
    """libyaml's composer is recursive: 100000 levels would crash the process (SIGSEGV)."""
    depth = 100_000
    stderr = refused(rules_file, CONFIGMAP + "  deep: " + "[" * depth + "]" * depth + "\n")
    assert "nesting deeper than 200 levels (--max-depth)" in stderr


def test_the_depth_limit_is_a_flag_and_an_environment_variable(rules_file):
    text = CONFIGMAP + "  deep: " + "[" * 30 + "]" * 30 + "\n" + "---\n" + sts()
    assert run_cli(["--rules", str(rules_file)], text).returncode == 0
    assert "deeper than 20 levels" in refused(rules_file, text, "--max-depth", "20")
    assert "deeper than 25 levels" in refused(rules_file, text, env={"VELERO_POSTRENDER_MAX_DEPTH": "25"})


def test_the_alias_limit_is_a_flag_and_an_environment_variable(rules_file):
    text = sts() + "---\n" + billion_laughs(3)  # 1 + 9 * 10 + ... : 9 aliases of 10 nodes, 9 of 91
    assert run_cli(["--rules", str(rules_file), "--max-alias-expansion", "100000"], text).returncode == 0
    assert "more than 50 nodes" in refused(rules_file, text, "--max-alias-expansion", "50")
    assert "more than 60 nodes" in refused(rules_file, text, env={"VELERO_POSTRENDER_MAX_ALIAS_EXPANSION": "60"})


def test_the_input_size_limit(rules_file):
    text = sts() + "---\n" + CONFIGMAP
    assert "larger than 100 bytes (--max-input-bytes)" in refused(rules_file, text, "--max-input-bytes", "100")
    assert "larger than 1024 bytes" in refused(rules_file, text * 10, env={"VELERO_POSTRENDER_MAX_INPUT_BYTES": "1Ki"})
    assert run_cli(["--rules", str(rules_file), "--max-input-bytes", "1Mi"], text).returncode == 0


@pytest.mark.parametrize("flag, value", [("--max-depth", "0"), ("--max-depth", "deep"), ("--max-input-bytes", "12Qi"),
                                         ("--max-alias-expansion", "-1")])
def test_an_invalid_limit_is_a_usage_error(rules_file, flag, value):
    result = run_cli(["--rules", str(rules_file), f"{flag}={value}"], sts())
    assert result.returncode == 2 and result.stdout == b""
    assert flag in result.stderr.decode() and "Traceback" not in result.stderr.decode()


def test_limits_have_documented_defaults():
    assert DEFAULT_LIMITS == Limits(16 * 1024 * 1024, 10_000, 200)
    assert Limits.from_settings(environ={}) == DEFAULT_LIMITS
    assert Limits.from_settings("2Mi", environ={"VELERO_POSTRENDER_MAX_INPUT_BYTES": "1"}).max_input_bytes == 2 * 1024 * 1024
    assert Limits.from_settings(environ={"VELERO_POSTRENDER_MAX_DEPTH": "7"}).max_depth == 7
    readme = (ROOT / "README.md").read_text()
    readme_section = readme[readme.index("## Security and limits"):readme.index("## Performance")]
    for text in ("--max-input-bytes", "--max-alias-expansion", "--max-depth", "16 MiB", "10000", "200"):
        assert text in readme_section


SCREENED = {
    "python tag": CONFIGMAP + "  a: !!python/name:os.system\n",
    "tag directive": "%TAG !p! tag:yaml.org,2002:python/\n---\n" + CONFIGMAP + "  a: !p!object:os.system {}\n",
    "duplicate key": CONFIGMAP + "  greeting: again\n",
    "nested duplicate key": CONFIGMAP + "  k:\n    x: 1\n    x: 2\n",
    "malformed": CONFIGMAP + "  a: [1\n",
    "tab": CONFIGMAP.replace("  name", "\tname"),
    "undefined alias": CONFIGMAP + "  x: *nope\n",
    "recursive alias": "apiVersion: v1\nkind: ConfigMap\nmetadata: &m {name: x, labels: *m}\n",
    "deep": CONFIGMAP + "  d: " + "[" * 300 + "]" * 300 + "\n",
    "billion laughs": billion_laughs(),
}


@pytest.mark.parametrize("name", sorted(SCREENED))
def test_screening_without_parsing_refuses_what_parsing_refuses(name):
    """``screen_document`` is for a fast path that skips parsing documents no rule can select:
    skipping must not let hostile input through, so it refuses what the loader refuses."""
    screened, parsed = screen_document(split(SCREENED[name])[0]), parse_document(split(SCREENED[name])[0])
    assert parsed is not None and screened is not None
    assert screened.location == parsed.location
    assert screened.message.split(":")[0] == parsed.message.split(":")[0]


def test_screening_accepts_what_parsing_accepts():
    text = CONFIGMAP + "  b: &b {x: 1}\n  c:\n    <<: *b\n    y: 2\n  e: !!binary aGk=\n  f: ! x\n"
    text += "  g: {a: {a: 1}, b: {a: 2}}\n  h: [{a: 1}, {a: 1}]\n"
    for document in split(text + "---\n" + sts() + "---\n# only a comment\n"):
        assert screen_document(document) is None


# --- messages that cannot be forged ------------------------------------------------------


def single_error_line(stderr: bytes) -> str:
    text = stderr.decode("utf-8", "replace")
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text, repr(text)
    errors = [line for line in text.splitlines() if line.startswith("error")]
    assert len(errors) == 1, text
    return errors[0]


def test_a_rules_file_name_cannot_start_a_line_or_reach_the_terminal_raw(tmp_path):
    name = tmp_path / "r.yaml\nerror: forged line \x1b[31mred\x1b]0;title\x07\u202ecba"
    result = run_cli(["--rules", str(name)], sts())
    assert result.returncode == 1
    line = single_error_line(result.stderr)
    assert line.endswith("r.yaml\\nerror: forged line \\e[31mred\\e]0;title\\x07\\u202ecba: rules file not found")


def test_a_resource_name_cannot_start_a_line_or_reach_the_terminal_raw(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({**RULES, "rules": [{**RULES["rules"][0], "match": {"kinds": ["Widget"]},
                                                           "podTemplate": "$.spec.template"}]}, sort_keys=False))
    text = 'apiVersion: x/v1\nkind: Widget\nmetadata: {name: "w\\nerror: forged\\e[2J\\u2028x"}\nspec: {}\n'
    result = run_cli(["--rules", str(rules)], text)
    assert result.returncode == 1 and result.stdout == b""
    line = single_error_line(result.stderr)
    assert "w\\nerror: forged\\e[2J\\u2028x" in line and "finds nothing" in line


def test_problems_render_as_one_safe_line():
    problem = error("bad value 'a\nerror: b\x1b[0m\x9b\u2029\udcff'", Location(file="f\r.yaml", line=3, rule="r\n"),
                    "hint\x00")
    assert problem.render() == ("error: f\\r.yaml:3: rule 'r\\n': bad value 'a\\nerror: b\\e[0m\\x9b\\u2029\\udcff' "
                                "(hint\\x00)")
    assert Location(resource="Pod ns/a\nb").render() == "Pod ns/a\\nb"


# --- no super-linear work from a rules file ---------------------------------------------


def test_a_catastrophic_image_pattern_returns_at_once(tmp_path):
    """``(a+)+$`` makes a backtracking engine take exponential time on ``aaa...a!``; RE2 is linear."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({**RULES, "rules": [{**RULES["rules"][0], "match": {"images": ["(a+)+$"]}}]},
                                    sort_keys=False))
    image = "a" * 40 + "!"
    text = sts().replace("image: postgres:16", f"image: {image}") + "---\n" + sts("b").replace(
        "image: postgres:16", "image: " + "a" * 40)
    start = time.monotonic()
    result = run_cli(["--rules", str(rules)], text)
    assert time.monotonic() - start < 20  # a backtracking engine: hours
    assert result.returncode == 0, result.stderr
    out = split(result.stdout.decode())
    assert HOOK not in out[0].text and HOOK in out[1].text


@pytest.mark.parametrize("pattern, reason", [
    ("(?<=bitnami/)postgres", "invalid perl operator: (?<="),
    ("(a)\\1", "invalid escape sequence: \\1"),
    ("postgres\\Z", "invalid escape sequence: \\Z"),
    ("a{1001}", "invalid repetition size: {1001}"),
])
def test_image_patterns_are_go_regular_expressions(tmp_path, pattern, reason):
    """RE2 is Go's regexp syntax: what Go refuses (lookaround, backreferences, ``\\Z``) is a located error,
    in ``lint`` as in a run, and RE2 prints nothing of its own."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({**RULES, "rules": [{**RULES["rules"][0], "match": {"images": [pattern]}}]},
                                    sort_keys=False))
    result = run_cli(["lint", str(rules)])
    assert result.returncode == 1
    out = result.stdout.decode()
    assert f"{rules}:7: rule 'db': match.images[0]: invalid regular expression {pattern!r} (RE2 syntax" in out
    assert reason in out
    assert result.stderr == b""  # no RE2 log lines
    assert reason in refused(rules, sts())


def test_name_globs_take_linear_time():
    rules = {**RULES, "rules": [{**RULES["rules"][0], "match": {"names": ["*a" * 60 + "*b"]}}]}
    start = time.monotonic()
    result = render(sts("a" * 250), [rules], allow_unmatched=True)
    assert time.monotonic() - start < 5
    assert HOOK not in result.text


def deep_stream(depth: int = 150, width: int = 20) -> str:
    nested = "{a: " * depth + "[" + ", ".join(["{b: 1, c: 2}"] * width) + "]" + "}" * depth
    return sts() + "---\n" + CONFIGMAP + f"  deep: {nested}\n".replace("  deep:", "deep:").replace("data:\n", "data:\n", 1)


@pytest.mark.parametrize("field", ["match.jsonpath", "podTemplate"])
def test_a_jsonpath_whose_cost_explodes_is_a_located_error(tmp_path, field):
    rule = {**RULES["rules"][0]}
    if field == "podTemplate":
        rule["podTemplate"] = "$..*..*..*"
    else:
        rule["match"] = {"kinds": ["StatefulSet"], "jsonpath": "$..*..*..*"}
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({**RULES, "rules": [rule]}, sort_keys=False))
    text = deep_stream().replace("kind: ConfigMap", "kind: StatefulSet")
    start = time.monotonic()
    stderr = refused(rules, text, env={"VELERO_POSTRENDER_MAX_JSONPATH_WORK": "20000"})
    assert time.monotonic() - start < 60
    assert f"rule 'db': {field}: JSONPath '$..*..*..*' needs more than 20000 steps on this input " in stderr
    assert "MemoryError" not in stderr


def test_the_jsonpath_work_limit_has_a_default_and_an_environment_variable(tmp_path):
    from postrender.ruleset.jsonpaths import DEFAULT_MAX_JSONPATH_WORK, max_jsonpath_work

    assert DEFAULT_MAX_JSONPATH_WORK == 1_000_000
    assert max_jsonpath_work({}) == DEFAULT_MAX_JSONPATH_WORK
    assert max_jsonpath_work({"VELERO_POSTRENDER_MAX_JSONPATH_WORK": "5"}) == 5
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({**RULES, "rules": [{**RULES["rules"][0], "match": {
        "jsonpath": '$[?(@.kind == "StatefulSet")]'}}]}, sort_keys=False))
    assert run_cli(["--rules", str(rules)], sts()).returncode == 0
    assert "needs more than 3 steps" in refused(rules, sts(), env={"VELERO_POSTRENDER_MAX_JSONPATH_WORK": "3"})
    result = run_cli(["--rules", str(rules)], sts(), env={"VELERO_POSTRENDER_MAX_JSONPATH_WORK": "lots"})
    assert result.returncode == 2 and b"VELERO_POSTRENDER_MAX_JSONPATH_WORK 'lots'" in result.stderr


def test_a_nul_byte_is_refused_with_its_place(rules_file):
    stderr = refused(rules_file, sts().encode() + b"---\n# a comment \x00 here\n")
    assert "<stdin>:14: input holds a NUL byte at offset" in stderr


# --- rules and manifests are data only -------------------------------------------------


def test_the_loaders_construct_only_standard_tags():
    for loader in (ManifestLoader, UnsharingLoader, RulesLoader):
        assert issubclass(loader, yaml.constructor.SafeConstructor)
        assert not issubclass(loader, (yaml.constructor.FullConstructor, yaml.constructor.UnsafeConstructor))
        tags = set(loader.yaml_constructors) | set(loader.yaml_multi_constructors)
        assert {t for t in tags if t and not t.startswith("tag:yaml.org,2002:")} == set()
    assert issubclass(ManifestDumper, yaml.representer.SafeRepresenter)


def test_hook_scripts_and_commands_are_written_never_run(tmp_path):
    marker = tmp_path / "ran"
    rules = dict(RULES, rules=[dict(RULES["rules"][0], hooks={
        "preBackup": {"script": f"touch {marker}; $(touch {marker}) `touch {marker}`"},
        "postRestore": {"command": ["touch", str(marker)]},
    })])
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rules, sort_keys=False))
    result = run_cli(["--rules", str(path)], sts())
    assert result.returncode == 0, result.stderr
    assert str(marker) in result.stdout.decode()
    assert not marker.exists()


FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__", "execfile", "input", "breakpoint"}
FORBIDDEN_MODULES = {"pickle", "marshal", "shelve", "dill", "cloudpickle", "importlib", "socket", "urllib", "http",
                     "requests", "ftplib", "ctypes", "runpy", "code", "pty"}
FORBIDDEN_ATTRIBUTES = {"system", "popen", "execv", "execve", "execvp", "spawnv", "spawnl", "startfile", "import_module",
                        "unsafe_load", "full_load", "unsafe_load_all", "full_load_all"}
UNSAFE_LOADERS = {"Loader", "FullLoader", "UnsafeLoader", "CLoader", "CFullLoader", "CUnsafeLoader"}
# The one process a command starts: ``lint`` runs ``SHELL -n`` (parse only) for an allow-listed shell.
SUBPROCESS_ALLOWED = {"postrender/lint/shell_syntax.py"}


def package_sources() -> list[Path]:
    return sorted((ROOT / "postrender").rglob("*.py"))


@pytest.mark.parametrize("path", package_sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_code_path_evaluates_imports_or_executes(path):
    """Rules files are data: the package has no eval/exec/dynamic import, no unsafe YAML loader,
    no network, and starts a process only where a reviewed allow-list says so."""
    relative = str(path.relative_to(ROOT))
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=relative)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
            found.append(f"call {node.func.id}() at line {node.lineno}")
        if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRIBUTES:
            found.append(f".{node.attr} at line {node.lineno}")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                # importlib.metadata reads the installed version; the rest of importlib loads code
                metadata_only = name == "importlib.metadata" or (
                    isinstance(node, ast.ImportFrom) and name == "importlib"
                    and all(a.name == "metadata" for a in node.names))
                if top in FORBIDDEN_MODULES and not metadata_only:
                    found.append(f"import {name} at line {node.lineno}")
                if top == "subprocess" and relative not in SUBPROCESS_ALLOWED:
                    found.append(f"import subprocess at line {node.lineno}")
        if isinstance(node, ast.keyword) and node.arg == "Loader":
            value = node.value
            name = value.attr if isinstance(value, ast.Attribute) else getattr(value, "id", "")
            if name in UNSAFE_LOADERS:
                found.append(f"Loader={name} at line {node.lineno}")
    assert found == [], f"{relative}: {found}"


def test_the_fuzz_target_replays_its_seeds_cleanly(tmp_path):
    """The atheris target (fuzz/fuzz_cli.py, run for a bounded time by fuzz/run.sh in CI) on its
    seed corpus only (``-runs=0``: no mutation, deterministic): every seed keeps the contract."""
    pytest.importorskip("atheris")
    seeds = tmp_path / "seeds"
    subprocess.run([sys.executable, str(ROOT / "fuzz" / "seeds.py"), str(seeds)], check=True)
    assert len(list(seeds.iterdir())) > 100
    result = subprocess.run([sys.executable, str(ROOT / "fuzz" / "fuzz_cli.py"), "-runs=0",
                             f"-artifact_prefix={tmp_path}/", str(seeds)], capture_output=True, timeout=600,
                            env={**os.environ, "FUZZ_WORKDIR": str(tmp_path / "files")})
    output = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 0, output[-3000:]
    assert "DONE" in output and not list(tmp_path.glob("crash-*"))
