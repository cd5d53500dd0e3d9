"""compose.yaml is a valid Compose file (issue 11, item 6), checked against the Compose
Specification's schema (tests/data/compose/README.md) because CI has no Docker Compose, and
its PostgreSQL profile wires two instances to one healthy database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "tests/data/compose/compose_spec.json").read_text())


def compose() -> dict[str, Any]:
    doc: dict[str, Any] = YAML(typ="safe").load((ROOT / "compose.yaml").read_text())
    return doc


def errors(doc: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA)
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(doc)]


def test_compose_file_matches_the_compose_specification():
    assert errors(compose()) == []


@pytest.mark.parametrize(
    ("where", "key", "value"),
    [
        ("monitor", "imagee", "monitor:latest"),  # a misspelt key
        ("monitor-a", "depends_on", {"postgres": {"condition": "healthy"}}),
        ("postgres", "healthcheck", {"interval": 5}),  # a duration must be a string
    ],
)
def test_the_schema_check_can_fail(where: str, key: str, value: Any):
    doc = compose()
    doc["services"][where] = {**doc["services"][where], key: value}
    assert errors(doc), f"{where}.{key}={value!r} passed the schema"


def test_postgres_profile_runs_two_instances_on_one_healthy_database():
    services = compose()["services"]
    instances = [
        name for name, s in services.items() if "MONITOR_DATABASE_URL" in s.get("environment", {})
    ]
    assert sorted(instances) == ["monitor-a", "monitor-b"]
    assert "healthcheck" in services["postgres"]
    urls = {services[name]["environment"]["MONITOR_DATABASE_URL"] for name in instances}
    assert len(urls) == 1
    assert urls.pop().endswith("@postgres:5432/monitor")
    ports = [p for name in instances for p in services[name]["ports"]]
    assert len(ports) == len(set(ports)), "two instances publish the same host port"
    for name in ("postgres", *instances):
        assert services[name]["profiles"] == ["postgres"]
    for name in instances:
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
        # Nothing shared on disk: every shared state lives in PostgreSQL.
        assert all(not str(v).startswith("monitor-state") for v in services[name]["volumes"])
