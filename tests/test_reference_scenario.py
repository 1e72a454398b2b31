"""The reference scenario (a PostgreSQL chart with hand-written hooks), end to end through the real command line."""

from __future__ import annotations

import json

import yaml
from conftest import EXAMPLES, run_cli

SEED = EXAMPLES / "reference" / "postgresql-8.7.4.yaml"
RULES = EXAMPLES / "reference" / "rules.yaml"

# What the vendor wrote by hand in the chart's values.
VENDOR_ANNOTATIONS = {
    "backup.velero.io/backup-volumes": "backup",
    "pre.hook.backup.velero.io/command": '["/bin/bash", "-c", "PGPASSWORD=$POSTGRES_PASSWORD pg_dump -U username '
    '-d dbname -h 127.0.0.1 > /scratch/backup.sql"]',
    "pre.hook.backup.velero.io/timeout": "3m",
    "post.hook.restore.velero.io/command": '["/bin/bash", "-c", "[ -f \\"/scratch/backup.sql\\" ] && '
    "PGPASSWORD=$POSTGRES_PASSWORD psql -U username -h 127.0.0.1 -d dbname -f /scratch/backup.sql && "
    'rm -f /scratch/backup.sql;"]',
}
# What this project always adds on top (an explicit on-error; the hook container by name).
ALWAYS_WRITTEN = {
    "pre.hook.backup.velero.io/on-error": "Fail",
    "pre.hook.backup.velero.io/container": "postgresql",
    "post.hook.restore.velero.io/on-error": "Continue",
    "post.hook.restore.velero.io/container": "postgresql",
}


def _split(text: str) -> list[str]:
    return ["---" + part for part in text.split("\n---")[1:]] if text.startswith("---") else text.split("\n---")


def _statefulset(docs: list[dict]) -> dict:
    return next(d for d in docs if d and d["kind"] == "StatefulSet")


def test_one_rules_file_gives_the_vendors_pod_template():
    result = run_cli(["--rules", str(RULES)], SEED.read_bytes())
    assert result.returncode == 0, result.stderr.decode()
    docs = list(yaml.safe_load_all(result.stdout))
    template = _statefulset(docs)["spec"]["template"]
    annotations = template["metadata"]["annotations"]

    assert set(annotations) == set(VENDOR_ANNOTATIONS) | set(ALWAYS_WRITTEN)
    for key, value in VENDOR_ANNOTATIONS.items():
        if key.endswith("/command"):
            assert json.loads(annotations[key]) == json.loads(value), key
        else:
            assert annotations[key] == value, key
    for key, value in ALWAYS_WRITTEN.items():
        assert annotations[key] == value

    volumes = template["spec"]["volumes"]
    assert {"name": "backup", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}} in volumes
    container = next(c for c in template["spec"]["containers"] if c["name"] == "postgresql")
    assert {"name": "backup", "mountPath": "/scratch"} in container["volumeMounts"]
    # never on the workload's own metadata
    assert "annotations" not in _statefulset(docs)["metadata"]


def test_every_other_document_is_unchanged_byte_for_byte():
    result = run_cli(["--rules", str(RULES)], SEED.read_bytes())
    source = SEED.read_text()
    before, after = _split(source), _split(result.stdout.decode())
    assert len(before) == len(after)
    changed = [i for i, (a, b) in enumerate(zip(before, after)) if a != b]
    assert len(changed) == 1
    assert "kind: StatefulSet" in before[changed[0]]
    assert after[changed[0]].startswith("---\n# Source: postgresql/templates/statefulset.yaml\n")


def test_set_switches_the_rule_off_and_the_stream_passes_unchanged():
    result = run_cli(["--rules", str(RULES), "--set", "embedded=false"], SEED.read_bytes())
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == SEED.read_bytes()
    assert b"disabled" in result.stderr


def test_environment_variables_give_the_same_result_as_flags():
    flags = run_cli(["--rules", str(RULES), "--set", "scratchSize=2Gi"], SEED.read_bytes())
    env = run_cli([], SEED.read_bytes(), env={"VELERO_POSTRENDER_RULES": str(RULES),
                                               "VELERO_POSTRENDER_SET": "scratchSize=2Gi"})
    assert flags.returncode == env.returncode == 0
    assert flags.stdout == env.stdout
    assert b"sizeLimit: 2Gi" in env.stdout


def test_output_is_idempotent_and_deterministic():
    once = run_cli(["--rules", str(RULES)], SEED.read_bytes())
    again = run_cli(["--rules", str(RULES)], SEED.read_bytes())
    twice = run_cli(["--rules", str(RULES)], once.stdout)
    assert once.stdout == again.stdout
    assert twice.returncode == 0
    assert twice.stdout == once.stdout
