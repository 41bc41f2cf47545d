"""Fixtures for the deploy/ tests: gunicorn from deploy/gunicorn.conf.py, nginx from deploy/nginx.

The gateway here is started exactly as systemd starts it (``gunicorn -c deploy/gunicorn.conf.py
wsgi:app`` with SWITCHBOARD_* in the environment), in front of the e2e suite's fake OpenAI.
"""
import os
import re
import shutil
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import yaml

from tests.e2e.helpers import (READY_TIMEOUT, Gateway, free_port, launch, stop_process,
                               text_of_stream, wait_ready)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DEPLOY = REPO / "deploy"
GUNICORN = Path(sys.executable).parent / "gunicorn"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(items):
    """Every test here starts real processes, like the e2e suite."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.e2e)


def require_tool(name, *candidates, installed_by_ci=True):
    """The tool's path. Without it: skip, or fail under CI=true if .ci/run installs it."""
    path = shutil.which(name) or next((c for c in candidates if os.access(c, os.X_OK)), None)
    if path is None:
        if installed_by_ci and IN_CI:
            pytest.fail(f"{name} is not installed but CI=true: .ci/run installs it (as root)")
        pytest.skip(f"{name} is not installed" +
                    (" (.ci/run installs it when run as root)" if installed_by_ci else ""))
    return path


def write_config(path, config):
    """Write a config mapping as YAML (atomically: a reloading worker never reads half)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(config, sort_keys=False))
    tmp.replace(path)


def start_gunicorn(workdir, config, env=None, workers=1):
    """``gunicorn -c deploy/gunicorn.conf.py wsgi:app`` on a free port; waits until ready."""
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "config.yaml"
    write_config(config_path, config)
    port = free_port()
    env = {"SWITCHBOARD_CONFIG": str(config_path), "SWITCHBOARD_BIND": f"127.0.0.1:{port}",
           "SWITCHBOARD_WORKERS": str(workers), **(env or {})}
    args = [str(GUNICORN), "-c", str(DEPLOY / "gunicorn.conf.py"), "--chdir", str(REPO),
            "wsgi:app"]
    proc, stdout_path, stderr_path = launch(workdir, args, env)
    gateway = Gateway(proc, port, stdout_path, stderr_path)
    gateway.config_path = config_path
    wait_ready(gateway)
    return gateway


def uncomment_tls_server(site):
    """The site with its commented-out TLS server block switched on."""
    lines = site.splitlines()
    start = lines.index("# server {")
    end = lines.index("# }", start)
    block = [line[2:] if line.startswith("# ") else line.lstrip("#")
             for line in lines[start:end + 1]]
    return "\n".join(lines[:start] + block + lines[end + 1:]) + "\n"


def render_nginx(prefix, upstream_port, listen_port, tls=None):
    """deploy/nginx for a temp prefix: a main nginx.conf including the site and its snippet.

    ``tls``: (port, certificate, key) to switch the TLS server block on as well.
    """
    site = (DEPLOY / "nginx" / "switchboard.conf").read_text()
    substitutions = [(r"server 127\.0\.0\.1:8000;", f"server 127.0.0.1:{upstream_port};"),
                     (r"listen 80;", f"listen 127.0.0.1:{listen_port};"),
                     (r"/var/log/nginx/", f"{prefix}/")]
    if tls:
        port, certificate, key = tls
        site = uncomment_tls_server(site)
        substitutions += [(r"listen 443 ssl", f"listen 127.0.0.1:{port} ssl"),
                          (r"\n\s*listen \[::\]:443 .*", ""),
                          (r"/etc/letsencrypt/live/[^;]*/fullchain\.pem", str(certificate)),
                          (r"/etc/letsencrypt/live/[^;]*/privkey\.pem", str(key))]
    for pattern, replacement in substitutions:
        site, count = re.subn(pattern, replacement, site)
        assert count, f"deploy/nginx/switchboard.conf no longer contains {pattern!r}"
    (prefix / "snippets").mkdir(parents=True, exist_ok=True)
    shutil.copy(DEPLOY / "nginx" / "snippets" / "switchboard-proxy.conf", prefix / "snippets")
    (prefix / "switchboard.conf").write_text(site)
    temp_paths = "\n".join(f"    {kind}_temp_path {prefix}/{kind}_temp;"
                           for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    # As root, nginx's workers would run as nobody, who cannot enter pytest's 0700 temp dirs.
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = prefix / "nginx.conf"
    conf.write_text(f"{user}worker_processes 1;\nevents {{ worker_connections 512; }}\n"
                    f"http {{\n{temp_paths}\n    access_log off;\n"
                    f"    include {prefix}/switchboard.conf;\n}}\n")
    return conf


def nginx_args(nginx, prefix, conf):
    """The nginx command line: foreground, every path under the prefix."""
    return [nginx, "-p", f"{prefix}/", "-c", str(conf), "-e", f"{prefix}/error.log",
            "-g", f"daemon off; pid {prefix}/nginx.pid; error_log {prefix}/error.log;"]


class Nginx:
    """A running nginx in front of a gateway."""

    def __init__(self, proc, port, prefix):
        self.proc = proc
        self.port = port
        self.prefix = prefix
        self.url = f"http://127.0.0.1:{port}"

    def error_log(self):
        """nginx's error log so far."""
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def access_log(self):
        """The site's JSON access log lines so far."""
        path = self.prefix / "switchboard.access.log"
        return path.read_text(errors="replace").splitlines() if path.exists() else []

    def stop(self):
        """SIGTERM (fast shutdown), then reap."""
        stop_process(self.proc)


def start_nginx(prefix, upstream_port, tls=None):
    """Render deploy/nginx under ``prefix``, run nginx in the foreground, wait until it serves."""
    nginx = require_tool("nginx", "/usr/sbin/nginx")
    prefix.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = render_nginx(prefix, upstream_port, port, tls)
    proc, _, _ = launch(prefix / "run", nginx_args(nginx, prefix, conf))
    server = Nginx(proc, port, prefix)
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"nginx exited with {proc.returncode}:\n{server.error_log()}")
        try:
            requests.get(server.url + "/health/liveliness", timeout=1)
            return server
        except requests.RequestException:
            time.sleep(0.05)
    server.stop()
    pytest.fail(f"nginx not serving after {READY_TIMEOUT}s:\n{server.error_log()}")


def start_behind_nginx(workdir, config, workers=1):
    """gunicorn from deploy/ with the deploy/ nginx site in front of it: (gateway, nginx)."""
    require_tool("nginx", "/usr/sbin/nginx")  # skip before starting anything that would leak
    gateway = start_gunicorn(workdir / "gw", config, workers=workers)
    try:
        return gateway, start_nginx(workdir / "nginx", gateway.port)
    except BaseException:
        gateway.stop()
        raise


class Load:
    """Threads sending chats and streams back to back, each on its own kept-alive client."""

    def __init__(self, make_client, messages, threads=4):
        self.make_client = make_client
        self.messages = messages
        self.stop = threading.Event()
        self.done = []
        self.failures = []
        self.threads = [threading.Thread(target=self.run, args=(i % 2 == 0,), daemon=True)
                        for i in range(threads)]

    def run(self, stream):
        """One thread: requests until stopped; failures are collected, not raised."""
        with self.make_client() as client:
            while not self.stop.is_set():
                try:
                    self.done.append(self.one(client, stream, self.messages))
                except Exception as exc:  # noqa: BLE001 - every failure is the finding
                    # The cause tells a reset connection from a refused one or an HTTP error.
                    self.failures.append(f"{exc!r} <- {exc.__cause__!r} (stream={stream})")

    @staticmethod
    def one(client, stream, messages):
        """One chat (or stream); its text."""
        if not stream:
            return client.chat.completions.create(model="gpt-3.5-turbo", messages=messages) \
                .choices[0].message.content
        with client.chat.completions.create(model="gpt-3.5-turbo", messages=messages,
                                            stream=True) as chunks:
            return text_of_stream(chunks)

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)
