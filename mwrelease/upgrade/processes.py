"""The processes an upgrade runs and stops: update.php, the admin's reload command, and the test-only fault
injection that kills mwrelease itself at the start of a step."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from mwrelease.errors import MwreleaseError, UpgradeError
from mwrelease.release.lines import line_key, line_of
from mwrelease.upgrade.journal import Journal

FAULT_ENV = "MWRELEASE_FAULT_KILL_AT"  # fault injection for tests: SIGKILL ourselves when this step begins


def fault(step: str, version: str) -> None:
    """Fault injection: MWRELEASE_FAULT_KILL_AT=update kills at the first stop's update, update@1.43.9 at that stop's."""
    if os.environ.get(FAULT_ENV) in (step, f"{step}@{version}"):
        os.kill(os.getpid(), signal.SIGKILL)


def update_command(tree: Path, version: str, php: str) -> list[str]:
    # MediaWiki 1.40+ runs maintenance scripts through maintenance/run.php; update.php still works on 1.43.
    if line_key(line_of(version)) >= (1, 40) and (tree / "maintenance/run.php").is_file():
        return [php, "maintenance/run.php", "update", "--quick"]
    return [php, "maintenance/update.php", "--quick"]


def run_update(tree: Path, version: str, *, php: str, log: Path, journal: Journal, timeout: float) -> str:
    cmd = update_command(tree, version, php)
    with open(log, "a") as fh:
        fh.write(f"+ (cd {tree} && {' '.join(cmd)})\n")
        fh.flush()
        proc = subprocess.Popen(cmd, cwd=tree, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, "MW_INSTALL_PATH": str(tree)}, start_new_session=True)
        # If we are killed, the next run must stop this update.php before restoring the database.
        journal.data["update_pid"] = proc.pid
        journal.save()
        fault("update", version)
        try:
            rc = proc.wait(timeout=timeout)
        except BaseException:
            kill_group(proc.pid)
            proc.wait()
            raise
    if rc != 0:
        raise UpgradeError(f"update.php exited with code {rc}.")
    return " ".join(cmd[1:])


def reload_server(command: str | None, log: Path, *, php: str | None = None) -> None:
    """Run the admin's reload command (PHP keeps APCu and opcache across requests: a switched tree needs it),
    with the PHP that is to serve the wiki from now on in $MWRELEASE_PHP."""
    if not command:
        return
    env = {**os.environ, "MWRELEASE_PHP": php} if php else None
    res = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=300, env=env)
    with open(log, "a") as fh:
        fh.write(f"+ {command}\n{res.stdout}{res.stderr}")
    if res.returncode != 0:
        raise UpgradeError(f"The reload command `{command}` exited with {res.returncode}.",
                           details=(res.stdout + res.stderr).strip().splitlines()[-10:])


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def describe(exc: BaseException) -> str:
    if isinstance(exc, MwreleaseError):
        return exc.message
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    return f"{type(exc).__name__}: {exc}"


def log_tail(log: Path, n: int = 25) -> list[str]:
    try:
        return log.read_text(errors="replace").splitlines()[-n:]
    except OSError:
        return []
