"""The Dockerfile builds an image of mwrelease itself that runs with no network."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from mwrelease.runner.engine import Engine
from tests.helpers import REPO
from tests.integration.helpers import need_images

pytestmark = pytest.mark.docker


def docker(*args: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER_HOST": os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")}
    return subprocess.run([shutil.which("docker") or "docker", *args], capture_output=True, text=True, env=env, timeout=timeout)


def test_tool_image_builds_and_runs(engine: Engine) -> None:
    need_images(engine, "mwrelease/base:bookworm")
    if shutil.which("docker") is None:
        pytest.skip("the docker command line is not installed (ci/prepare-machine.sh installs docker.io)")
    wheels = REPO / "dist" / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    from harness import cache_lock  # the upgrade harness builds this checkout's wheel too, on another worker
    with cache_lock("own-wheel"):
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", str(REPO), "-w", str(wheels)], check=True,
                       timeout=600)
    build = docker("build", "-q", "--network", "host", "--build-arg", "BASE=mwrelease/base:bookworm",
                   "--build-arg", "PIP_NO_INDEX=1", "-t", "mwrelease/tool:test", str(REPO))
    assert build.returncode == 0, build.stderr[-2000:]
    try:
        run = docker("run", "--pull=never", "--rm", "--network", "none", "mwrelease/tool:test", "--version")
        assert run.returncode == 0 and "mwrelease, version" in run.stdout, run.stderr
        run = docker("run", "--pull=never", "--rm", "--network", "none", "mwrelease/tool:test",
                     "bundle", "validate", "/src/bundles/language-1.43.yaml")
        assert run.returncode == 0, run.stderr
    finally:
        docker("rmi", "-f", "mwrelease/tool:test")
