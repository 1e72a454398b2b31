"""The lexical screen (the start-up fast path) gives exactly the result of a full parse on every stream.

Streams are built from the real fixtures plus documents written to fool a lexical reader
(flow-style images, quoted keys, anchors and aliases, comments after values, a kind: List).
"""

from __future__ import annotations

import os
from functools import lru_cache

from conftest import HELM3_FIXTURES, HELM4_FIXTURES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postrender.filters.select import screen_for
from postrender.pipeline import Options, PostRenderer
from postrender.ruleset.load import RulesSource, load_ruleset
from postrender.stream.reader import TextReader
from postrender.stream.screen import lexical_images, lexical_kind
from postrender.stream.split import split
from postrender.writers.stream import TextWriter

TRICKY = [
    # image in flow style: the screen cannot read it and must parse
    "---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: flow-db}\nspec:\n  template:\n    spec:\n"
    "      containers: [{name: db, image: 'postgres:16'}]\n",
    # quoted image key
    '---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: quoted\nspec:\n  template:\n    spec:\n'
    '      containers:\n        - name: db\n          "image": mysql:8\n',
    # image through an alias
    "---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: alias\n  annotations:\n    img: &img redis:7\n"
    "spec:\n  template:\n    spec:\n      containers:\n        - name: cache\n          image: *img\n",
    # quoted kind key and a comment after the value
    '---\napiVersion: apps/v1\n"kind": StatefulSet\nmetadata:\n  name: quoted-kind\nspec:\n  template:\n'
    "    spec:\n      containers:\n        - name: db\n          image: mariadb:11 # official\n",
    # a List of workloads
    "---\napiVersion: v1\nkind: List\nitems:\n  - apiVersion: apps/v1\n    kind: StatefulSet\n    metadata:\n"
    "      name: in-list\n    spec:\n      template:\n        spec:\n          containers:\n"
    "            - name: mongo\n              image: mongo:7\n",
    # a comment-only document
    "---\n# Source: chart/templates/empty.yaml\n",
]

RULES = [
    ("pg", ["StatefulSet"], ["(^|/)postgres(ql)?[:@]"]),
    ("my", ["StatefulSet", "Deployment"], ["(^|/)mysql[:@]"]),
    ("maria", ["StatefulSet"], ["mariadb[:@]"]),
    ("mongo", ["StatefulSet", "Deployment"], ["(^|/)mongo(db)?[:@]"]),
    ("redis", ["StatefulSet"], ["(^|/)redis[:@]"]),
    ("any-sts", ["StatefulSet"], []),
    ("by-image", [], ["busybox|os-shell"]),
]


@lru_cache(maxsize=1)
def corpus() -> list[str]:
    texts = list(TRICKY)
    for path in HELM3_FIXTURES + HELM4_FIXTURES:
        for document in split(path.read_text()):
            text = document.text if document.text.endswith("\n") else document.text + "\n"
            texts.append(text if text.startswith("---") else "---\n" + text)
    return texts




def load(chosen: list[int]):
    rules = ["apiVersion: velero-postrender/v1", "kind: RuleSet", "rules:"]
    for index in chosen:
        name, kinds, images = RULES[index]
        rules.append(f"  - name: {name}")
        rules.append("    match:")
        if kinds:
            rules.append("      kinds: [" + ", ".join(kinds) + "]")
        if images:
            rules.append("      images: [" + ", ".join(f"'{i}'" for i in images) + "]")
        # no hooks (two rules on one pod would claim the same phase), so the volume is not backed up:
        # a backed-up scratch volume that no container mounts is an error
        rules.append(f"    scratch: {{name: scratch-{name}, mountPath: /scratch-{name}, backup: false}}")
    return load_ruleset([RulesSource("\n".join(rules) + "\n", "generated.yaml")])


streams = st.lists(st.integers(min_value=0, max_value=100_000), min_size=1, max_size=30).map(
    lambda picks: "".join(corpus()[i % len(corpus())] for i in picks))
rule_choices = st.lists(st.integers(min_value=0, max_value=len(RULES) - 1), min_size=1, max_size=4, unique=True)


def render_stream(text: str, ruleset, options: Options) -> TextWriter:
    writer = TextWriter()
    PostRenderer(ruleset, options).run(TextReader(text), writer)
    return writer


def outcome(text: str, ruleset, full: bool):
    try:
        result = PostRenderer(ruleset, Options(allow_unmatched=True, full_parse=full)).run(TextReader(text), TextWriter())
    except Exception as exc:  # the same refusal is part of the equivalence
        return ("error", type(exc).__name__, str(exc))
    return ("ok", result.output, sorted((e.rule, e.resource.document.index) for e in result.effects if e.changed))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=streams, chosen=rule_choices)
def test_screened_run_equals_full_parse(stream, chosen):
    ruleset = load(chosen)
    assert outcome(stream, ruleset, full=False) == outcome(stream, ruleset, full=True)


def test_every_tricky_document_is_parsed_when_a_rule_could_select_it():
    ruleset = load(list(range(5)))
    screen = screen_for(ruleset)
    assert screen is not None
    for text in TRICKY[:5]:
        assert screen.may_match(text), text


def test_the_screen_skips_what_cannot_match():
    screen = screen_for(load([0]))
    service = "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: db\n"
    web = "---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n" \
          "      containers:\n        - name: web\n          image: nginx:1.27\n"
    assert not screen.may_match(service)
    assert not screen.may_match(web)


def test_lexical_readers():
    assert lexical_kind("apiVersion: v1\nkind: 'Service' # x\n") == "Service"
    assert lexical_kind("apiVersion: v1\n") is None
    assert lexical_kind('"kind": Service\n') is None
    assert lexical_images("x:\n  - image: \"a:1\"\n    y: 1\n  - name: b\n    image: b:2 # c\n") == ["a:1", "b:2"]
    assert lexical_images("containers: [{image: a}]\n") is None
    assert lexical_images("image: *ref\n") is None


def test_a_jsonpath_rule_turns_the_screen_off():
    text = ("apiVersion: velero-postrender/v1\nkind: RuleSet\nrules:\n  - name: j\n    match:\n"
            "      kinds: [StatefulSet]\n      jsonpath: '$[?(@.spec.replicas > 0)]'\n"
            "    scratch: {mountPath: /s}\n")
    assert screen_for(load_ruleset([RulesSource(text, "j.yaml")])) is None


# --- the splitter: one regex pass equals the simple line-by-line reading -------------------------

def split_line_by_line(text: str) -> list[tuple[int, int, str]]:
    """The reference reading of document boundaries, one line at a time (what split must equal)."""
    import re

    marker, end = re.compile(r"---(?:[ \t\r]|$)"), re.compile(r"\.\.\.(?:[ \t\r]|$)")
    trivia = re.compile(r"\ufeff?(?:[ \t\r]*(?:#.*)?$|%)")
    documents: list[tuple[int, int, str]] = []
    chunk: list[str] = []
    chunk_line, opened = 1, False
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
    for number, line in enumerate(lines, 1):
        bare = line[1:] if number == 1 and line.startswith("\ufeff") else line
        if marker.match(bare):
            if opened:
                documents.append((len(documents) + 1, chunk_line, "".join(chunk)))
                chunk, chunk_line = [], number
            chunk.append(line)
            opened = True
            continue
        chunk.append(line)
        if end.match(bare):
            documents.append((len(documents) + 1, chunk_line, "".join(chunk)))
            chunk, chunk_line, opened = [], number + 1, False
            continue
        if not opened and not trivia.match(line):
            opened = True
    if chunk:
        documents.append((len(documents) + 1, chunk_line, "".join(chunk)))
    return documents


PIECES = ["---\n", "--- # c\n", "...\n", "a: 1\n", "# c\n", "\n", "%YAML 1.1\n", "\ufeff", "  ---\n", "----\n",
          "b: |\n  x\n", "---", "...", "x: y", "\r\n", "---\r\n", "# only", "--- |\n", " \n", "\ufeff---\n", "...x\n"]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=10).map("".join))
def test_split_equals_the_line_by_line_reading(text):
    assert [(d.index, d.line, d.text) for d in split(text)] == split_line_by_line(text)


# --- the structure check in a forked worker ------------------------------------------------------

def test_the_worker_reports_what_the_serial_check_reports(monkeypatch):
    from postrender.limits import DEFAULT_LIMITS
    from postrender.stream import check as screening

    monkeypatch.setattr(screening, "PARALLEL_THRESHOLD", 1)
    documents = split("".join(corpus()[6:120]) + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: x\n"
                      + "".join(corpus()[120:200]))
    expected = screening.check_serially(documents, DEFAULT_LIMITS)
    checking = screening.Checking(documents, DEFAULT_LIMITS, parallel=True)
    assert checking.pid, "a worker was started"
    found = checking.finish()
    assert [p.render() for p in found] == [p.render() for p in expected]
    assert len(found) == 1 and found[0].message.startswith("malformed YAML")


def test_a_failing_worker_is_replaced_by_this_process(monkeypatch):
    from postrender.limits import DEFAULT_LIMITS
    from postrender.stream import check as screening

    monkeypatch.setattr(screening, "PARALLEL_THRESHOLD", 1)
    documents = split("".join(corpus()[6:60]) + "---\nkind: ConfigMap\nmetadata: {name: [x}\n")
    real = screening.check_serially
    calls = []

    def broken_in_worker(docs, limits):
        calls.append(len(docs))
        if len(calls) == 1 and os.getpid() != parent:  # the worker's share: crash
            raise RuntimeError("worker crash")
        return real(docs, limits)

    parent = os.getpid()
    monkeypatch.setattr(screening, "check_serially", broken_in_worker)
    found = screening.Checking(documents, DEFAULT_LIMITS, parallel=True).finish()
    assert [p.render() for p in found] == [p.render() for p in real(documents, DEFAULT_LIMITS)]
    assert found and "malformed YAML" in found[0].message


def test_parallel_and_serial_runs_give_the_same_output():
    ruleset = load(list(range(5)))
    text = "".join(corpus()) * 3
    serial = render_stream(text, ruleset, Options(allow_unmatched=True))
    parallel = render_stream(text, ruleset, Options(allow_unmatched=True, parallel=True))
    assert parallel.text == serial.text
