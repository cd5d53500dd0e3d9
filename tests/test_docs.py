"""Every flag of every command is documented in the README (as simonw/sqlite-utils'
tests/test_docs.py does): each option in a command's ``--help`` must appear in that
command's row of the README's "Commands" table, or in the sentence there that lists the
options common to every command.  A failure names the command and the flag."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from monitor.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
COMMON = ("--feeds", "--keywords", "--state")
COMMON_SENTENCE = re.compile(
    r"Every command(?: except (?P<except>[^.]*?))? takes `--feeds`, `--keywords` and `--state`"
)


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def options(parser: argparse.ArgumentParser) -> list[list[str]]:
    """Each option's spellings as ``--help`` shows them, without ``-h/--help``."""
    return [
        list(a.option_strings)
        for a in parser._actions
        if a.option_strings and not isinstance(a, argparse._HelpAction)
    ]


def mentions(text: str, flag: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text) is not None


def command_rows(section: str, name: str) -> str:
    """The table rows whose first cell is ``monitor NAME ...``."""
    row = re.compile(rf"^\| `monitor {re.escape(name)}(?:[ `]).*$", re.MULTILINE)
    return "\n".join(m.group(0) for m in row.finditer(section))


def test_every_flag_of_every_command_is_in_its_readme_row():
    section = readme_section("Commands")
    common = COMMON_SENTENCE.search(" ".join(section.split()))
    assert common, 'README "## Commands" lost the sentence "Every command ... takes `--feeds`, ...'
    excepted = set(re.findall(r"`monitor ([\w-]+)`", common.group("except") or ""))
    missing = []
    for name, parser in sorted(subcommands().items()):
        rows = command_rows(section, name)
        if not rows:
            missing.append(f"monitor {name}: no row '| `monitor {name} ...` |' in the table")
            continue
        flags = options(parser)
        has_common = all(any(c in spellings for spellings in flags) for c in COMMON)
        if has_common == (name in excepted):
            says = "names it as an exception" if has_common else "does not name it as an exception"
            missing.append(
                f"monitor {name}: {'takes' if has_common else 'does not take'} "
                f"--feeds/--keywords/--state but the sentence 'Every command ... takes' {says}"
            )
        for spellings in flags:
            if has_common and spellings[0] in COMMON:
                continue
            if not any(mentions(rows, flag) for flag in spellings):
                missing.append(
                    f"monitor {name}: flag {'/'.join(spellings)} is not in its README row "
                    f"('| `monitor {name} ...` |' under '## Commands')"
                )
    assert not missing, "README.md does not document:\n" + "\n".join(missing)


def test_global_flags_are_in_the_commands_section():
    section = readme_section("Commands")
    missing = [
        "/".join(spellings)
        for spellings in options(build_parser())
        if not any(mentions(section, flag) for flag in spellings)
    ]
    assert not missing, f"README.md '## Commands' does not document monitor {missing}"


def test_the_check_sees_a_missing_flag():
    section = "| `monitor run [--http HOST:PORT]` | the service |\n"
    rows = command_rows(section, "run")
    assert mentions(rows, "--http")
    assert not mentions(rows, "--no-bot")
    assert not mentions("| `monitor poll [--all-feeds]` |", "--all")
    assert command_rows(section, "ru") == ""


def test_setup_commands_create_a_virtual_environment_first():
    setup = readme_section("Set-up: two commands")
    block = setup[setup.index("```sh") : setup.index("```", setup.index("```sh") + 5)]
    assert "python3 -m venv .venv" in block, "README set-up: no virtual environment"
    assert block.index("python3 -m venv") < block.index("pip install")


def test_mail_from_readme_and_config_agree():
    from monitor.deliver.email import SmtpSettings
    from monitor.errors import ConfigError

    env_section = readme_section("Environment")
    [row] = [line for line in env_section.splitlines() if line.startswith("| `MAIL_FROM` |")]
    assert "required when `SMTP_HOST` is set" in row
    assert "default `monitor <monitor@localhost>`" not in row
    with pytest.raises(ConfigError) as info:
        SmtpSettings.from_env({"SMTP_HOST": "smtp.example.org"})
    assert str(info.value) == "MAIL_FROM: is required when SMTP_HOST is set"
    assert str(info.value) in row
