"""mw.http_many: several requests in one exec, each answer split out with its status and time, against a real
HTTP server on the host's loopback and the real shell script run by the host's sh and curl (a stand-in for
the container's exec)."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from mwrelease.runner import mediawiki as mw
from mwrelease.runner.engine import ExecResult


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        code = 404 if self.path.startswith("/missing") else 200
        body = f"GET {self.path}\nsecond line without a final newline".encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        data = self.rfile.read(int(self.headers["Content-Length"]))
        body = b'{"posted": "' + data + b'"}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class _HostShell:
    """Runs the command with the host's sh, as the container's exec would."""

    def __init__(self) -> None:
        self.calls = 0

    def exec(self, cmd: str, *, timeout: float, quiet: bool = False, max_output: int = 0) -> ExecResult:
        self.calls += 1
        p = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, timeout=timeout)
        return ExecResult(exit_code=p.returncode, output=p.stdout + p.stderr, stdout=p.stdout, stderr=p.stderr,
                          duration=0.0)


def test_answers_in_order_with_status_body_and_time(server: str) -> None:
    shell: Any = _HostShell()
    answers = mw.http_many(shell, [[f"{server}/a?x=1&y=2"], [f"{server}/missing"], ["--data", "k=v", f"{server}/p"],
                                   [f"{server}/b"]], timeout=10)
    assert shell.calls == 1  # one exec for the four requests
    assert [a.status for a in answers] == [200, 404, 200, 200]
    assert answers[0].body == "GET /a?x=1&y=2\nsecond line without a final newline"
    assert answers[1].body.startswith("GET /missing")
    assert answers[2].body == '{"posted": "k=v"}'
    assert answers[3].body.startswith("GET /b\n")
    assert all(a.seconds > 0 for a in answers)


def test_no_answer_is_status_0_with_curl_message(server: str) -> None:
    host: Any = _HostShell()
    answers = mw.http_many(host, [["http://127.0.0.1:9/nothing-listens"], [f"{server}/after"]],
                           timeout=5)
    assert answers[0].status == 0 and answers[0].body == ""
    assert "curl" in answers[0].error.lower() or "connect" in answers[0].error.lower()
    assert answers[1].status == 200 and answers[1].body.startswith("GET /after")


def test_answers_missing_from_a_killed_exec_are_status_0() -> None:
    class Killed:
        def exec(self, cmd: str, **kw: Any) -> ExecResult:
            return ExecResult(exit_code=-1, output="[mwrelease: killed]", stdout="", duration=1.0, killed=True)

    killed: Any = Killed()
    answers = mw.http_many(killed, [["http://x/1"], ["http://x/2"]], timeout=1)
    assert [(a.status, a.body) for a in answers] == [(0, ""), (0, "")]
    assert "killed" in answers[1].error
    assert mw.http_many(killed, [], timeout=1) == []
