"""`phb run` (what `make run` calls): migrate, seed the demo once, then run the web server, the
background worker and the scheduler together until Ctrl-C, which stops all three."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from phb.demo.seed import DEMO_PASSWORD, sign_ins


class Command(BaseCommand):
    help = "Run PHB locally: web server, worker and scheduler in one command (Ctrl-C stops them all)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-demo", action="store_true", help="do not seed the demo data")

    def handle(self, *args: Any, host: str, port: int, no_demo: bool, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        if not settings.DEBUG:  # hashed static files for the manifest storage
            call_command("collectstatic", interactive=False, verbosity=0)
        marker = settings.VAR_DIR / ".demo-seeded"
        if not no_demo and not marker.exists():
            call_command("seed_demo")
            marker.write_text("seeded\n")
        python = sys.executable
        commands = {
            "web": [
                python,
                "-m",
                "gunicorn",
                "phb.config.wsgi:application",
                "--bind",
                f"{host}:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--graceful-timeout",
                "5",
                "--timeout",
                "60",
            ],
            "worker": [
                python,
                "-m",
                "celery",
                "-A",
                "phb.config",
                "worker",
                "--pool",
                "threads",
                "--concurrency",
                "2",
                "--loglevel",
                "WARNING",
                "--without-gossip",
                "--without-mingle",
            ],
            "scheduler": [
                python,
                "-m",
                "celery",
                "-A",
                "phb.config",
                "beat",
                "--loglevel",
                "WARNING",
                "--schedule",
                str(settings.VAR_DIR / "celerybeat-schedule"),
            ],
        }
        # Each child leads its own process group, so stopping it also stops whatever it forked.
        children = {name: subprocess.Popen(cmd, start_new_session=True) for name, cmd in commands.items()}  # noqa: S603
        stopping = False

        def stop(*_: Any) -> None:
            nonlocal stopping
            if stopping:
                return
            stopping = True
            self.stdout.write("\nStopping PHB ...")
            for proc in children.values():
                _signal_group(proc, signal.SIGTERM)
            deadline = time.monotonic() + 15
            for proc in children.values():
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    _signal_group(proc, signal.SIGKILL)
                    proc.wait()
            for proc in children.values():  # anything a child left behind in its group
                _signal_group(proc, signal.SIGKILL)

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            url = f"http://{host}:{port}/"
            if _wait_ready(url + "health/ready", children["web"]):
                self._banner(url, no_demo)
            parent = os.getppid()
            while not stopping:
                if os.getppid() != parent:  # whoever started us (make) is gone: do not linger
                    stop()
                    break
                for name, proc in children.items():
                    if proc.poll() is not None and not stopping:
                        self.stderr.write(f"PHB {name} exited with status {proc.returncode}; stopping.")
                        stop()
                        sys.exit(1)
                time.sleep(0.5)
        finally:
            stop()
        self.stdout.write("PHB stopped.")

    def _banner(self, url: str, no_demo: bool) -> None:
        lines = ["", f"PHB is running at {url}", "  web server, worker and scheduler are up; Ctrl-C stops them all."]
        if not no_demo:
            lines += [
                "",
                f"Demo sign-ins (demo only; password for all: {DEMO_PASSWORD}).",
                "Staff sign in with a second factor: add the secret to an authenticator app (or run",
                "`phb demo-code EMAIL` to print the current code).",
            ]
            lines += [f"  {email:<36} {what:<40} {secret}" for email, what, secret in sign_ins()]
        self.stdout.write("\n".join(lines) + "\n")


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _wait_ready(url: str, web: subprocess.Popen[bytes], timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and web.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own loopback URL)
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.3)
    return False
