"""compose.yaml and the README's "Deploy" section agree, the configuration is mounted as
a directory (hot reload survives editors that replace files), and ``.env`` stays out of
git and of the image (issue 10, item 12).  Docker itself does not run in the tests."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]


def compose_service() -> dict[str, Any]:
    compose = YAML(typ="safe").load((ROOT / "compose.yaml").read_text())
    return dict(compose["services"]["monitor"])


def deploy_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("\n## Deploy\n")
    return text[start : text.index("\n## ", start + 1)]


def bind_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """``(host path, container path)`` of each bind mount (named volumes left out)."""
    out = []
    for volume in service.get("volumes", []):
        source, target = (
            (volume["source"], volume["target"])
            if isinstance(volume, dict)
            else volume.split(":")[:2]
        )
        if source.startswith((".", "/", "~")):
            out.append((source, target))
    return out


def container_env(service: dict[str, Any]) -> dict[str, str]:
    env = dict(re.findall(r"(MONITOR_\w+)=(\S+)", (ROOT / "Dockerfile").read_text()))
    env.update({k: str(v) for k, v in (service.get("environment") or {}).items()})
    return env


def test_configuration_is_a_mounted_directory_holding_both_files():
    service = compose_service()
    env = container_env(service)
    mounts = bind_mounts(service)
    assert mounts, "compose.yaml mounts no configuration"
    for source, _ in mounts:
        assert not PurePosixPath(source).suffix, (
            f"compose.yaml bind-mounts the single file {source}: an editor that replaces the "
            "file breaks hot reload; mount its directory"
        )
    for key in ("MONITOR_FEEDS", "MONITOR_KEYWORDS"):
        parent = str(PurePosixPath(env[key]).parent)
        assert parent in [target for _, target in mounts], f"{key}={env[key]} is not in a mount"


def test_readme_deploy_steps_fill_the_mounted_directory():
    service = compose_service()
    deploy = deploy_section()
    env = container_env(service)
    [(source, target)] = [
        m for m in bind_mounts(service) if m[1] == str(PurePosixPath(env["MONITOR_FEEDS"]).parent)
    ]
    host_dir = source.removeprefix("./").rstrip("/")
    files = " ".join(PurePosixPath(env[k]).name for k in ("MONITOR_FEEDS", "MONITOR_KEYWORDS"))
    assert f"cp {files} {host_dir}/" in deploy, (
        f"README Deploy must copy {files} into {host_dir}/, which compose.yaml mounts at {target}"
    )
    assert "/srv/monitor/ " not in deploy
    named = re.findall(r"docker compose (?:logs -f|exec|run --rm) (\S+)", deploy)
    assert named
    assert set(named) == {"monitor"}
    compose = YAML(typ="safe").load((ROOT / "compose.yaml").read_text())
    assert set(named) <= set(compose["services"])
    for port in service["ports"]:
        host, _, published = str(port).rpartition(":")[0].partition(":")
        assert f"http://{host}:{published}/metrics" in deploy


def test_env_file_needs_no_recent_compose():
    env_file = compose_service()["env_file"]
    entries = env_file if isinstance(env_file, list) else [env_file]
    for entry in entries:
        if isinstance(entry, dict):
            assert "required" not in entry, "env_file: required: needs Docker Compose 2.24+"
    assert ".env" in [e if isinstance(e, str) else e["path"] for e in entries]
    assert "Compose 2.24" in deploy_section()


def test_env_is_ignored_by_git_and_docker():
    for name in (".gitignore", ".dockerignore"):
        lines = {line.strip() for line in (ROOT / name).read_text().splitlines()}
        assert lines & {".env", "/.env"}, f"{name} does not list .env (the secrets)"
    docker_lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert "config" in docker_lines  # the mounted configuration is not baked into the image
