"""``monitor run`` processes sharing one PostgreSQL, for the several-instances tests
(``tests/multi``): configuration files in a test's ``tmp`` directory, one state directory
and one log per instance."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = """\
destinations:
  eu-channel:
    telegram: "@eu_ai_watch"
watchlists:
  ai-act:
    title: EU AI Act
    any: ["AI Act"]
    alert: [eu-channel]
"""


class Instance:
    """One ``monitor run`` process, restarted in place after each kill (a new process:
    a new instance name); ``lease`` None leaves ``--lease`` at its default."""

    def __init__(
        self,
        name: str,
        tmp: Path,
        env: dict[str, str],
        *,
        lease: float | None,
        bot: bool = False,
    ) -> None:
        self.name = name
        self.lease = lease
        self.bot = bot
        self.tmp = tmp
        self.env = env
        self.log = tmp / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._seen = 0

    def start(self) -> None:
        self._seen = self.running() if self.log.exists() else 0
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "monitor",
                "run",
                "--feeds",
                str(self.tmp / "feeds.yaml"),
                "--keywords",
                str(self.tmp / "keywords.yaml"),
                "--state",
                str(self.tmp / f"state-{self.name}"),
                "--http",
                "",
                *(() if self.bot else ("--no-bot",)),
                *(() if self.lease is None else ("--lease", str(self.lease))),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    def running(self) -> int:
        return self.log.read_text(errors="replace").count("monitor running")

    def up(self) -> bool:
        """The process started last has said "monitor running"."""
        return self.running() > self._seen

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
