"""The packages as a user gets them: build both wheels, install them into an empty virtual environment
(dependencies pinned to the lock file, taken from the local uv cache when it has them), start the
installed ``experimently serve`` from another folder and ask it for ``/health`` (and the console's
index when its built assets exist)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
UV = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
CONSOLE_INDEX = ROOT / "src" / "experimently" / "console" / "dist" / "index.html"

pytestmark = [pytest.mark.package, pytest.mark.skipif(UV is None, reason="uv is not installed")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def uv(*args: str, cwd: Path = ROOT, check: bool = True) -> subprocess.CompletedProcess[str]:
    assert UV is not None
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")}
    return subprocess.run([UV, *args], cwd=cwd, env=env, check=check, capture_output=True, text=True)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    dist = work / "dist"
    uv("build", "--all-packages", "--wheel", "--out-dir", str(dist), "--quiet")
    wheels = sorted(dist.glob("*.whl"))
    assert [w.name.split("-")[0] for w in wheels] == ["experimently", "experimently_sdk"]
    requirements = work / "requirements.txt"
    uv(
        "export",
        "--frozen",
        "--no-dev",
        "--no-hashes",
        "--no-emit-workspace",
        "--no-header",
        "--quiet",
        "--output-file",
        str(requirements),
    )
    venv = work / "venv"
    uv("venv", "--quiet", "--python", sys.executable, str(venv))
    python = venv / "bin" / "python"
    install = [
        "pip",
        "install",
        "--quiet",
        "--python",
        str(python),
        "-r",
        str(requirements),
        *map(str, wheels),
    ]
    if uv(*install, "--offline", check=False).returncode != 0:  # the cache lacks something: use the index
        uv(*install)
    return venv


def test_wheel__installs_and_serves_health(installed: Path, tmp_path: Path) -> None:
    where = subprocess.run(
        [
            str(installed / "bin" / "python"),
            "-c",
            "import experimently, experimently_sdk; print(experimently.__file__)",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(installed) in where  # the installed package, not the source tree

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXPERIMENTLY_")}
    env["EXPERIMENTLY_DATA_DIR"] = str(tmp_path / "data")
    server = subprocess.Popen(
        [str(installed / "bin" / "experimently"), "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        healthy = False
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=2) as client:
            for _ in range(600):  # bounded: up to ~2 minutes on a loaded machine
                if server.poll() is not None:
                    break
                try:
                    healthy = client.get("/health").status_code == 200
                except httpx.HTTPError:
                    healthy = False
                if healthy:
                    break
                time.sleep(0.2)
            assert healthy, (
                server.stdout.read() if server.stdout and server.poll() is not None else "no answer"
            )
            assert client.get("/ready").json()["data"]["database"] is True
            if CONSOLE_INDEX.exists():  # built by `make install` (npm); shipped in the wheel when present
                index = client.get("/")
                assert index.status_code == 200
                assert "text/html" in index.headers["content-type"]
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert server.returncode == 0  # a clean stop on SIGTERM
