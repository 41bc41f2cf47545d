"""``switchboard``: run the gateway under gunicorn with gevent workers, in-process.

The config is loaded once here to fail fast with a clear message, then handed to the workers
through the environment (``SWITCHBOARD_CONFIG`` / ``SWITCHBOARD_MODEL``), exactly as
``gunicorn -c deploy/gunicorn.conf.py wsgi:app`` gets it; each worker builds its own app.
After the checks this process replaces itself (exec, same pid) with a fresh interpreter running
gunicorn (app.server): the arbiter then never holds Flask, requests or the providers, which
keeps it small and lets gevent patch before anything imports ssl.
"""
import argparse
import errno
import os
import socket
import sys

from app import lifecycle

# Gunicorn settings shared with deploy/gunicorn.conf.py, so both ways of starting behave alike.
GUNICORN_DEFAULTS = {
    "worker_class": "gevent",
    # Concurrent connections per worker; each holds an upstream connection from the pool too.
    "worker_connections": 1000,
    # gevent workers heartbeat from their own greenlet, so long streams don't trip this: it only
    # catches a worker whose event loop is blocked.
    "timeout": 120,
    # On SIGTERM/SIGHUP old workers finish in-flight requests and streams for this long.
    "graceful_timeout": 120,
    # Longer than nginx's upstream keepalive_timeout (30 s in deploy/nginx): nginx always closes
    # an idle connection first, so it never sends a request on one we are closing.
    "keepalive": 75,
    # Leak safety net: recycle a worker after about a million requests (staggered by jitter).
    "max_requests": 1_000_000,
    "max_requests_jitter": 100_000,
    # The app writes one JSON line per request (app/accesslog.py); gunicorn's would repeat it.
    "accesslog": None,
    "forwarded_allow_ips": "127.0.0.1,::1",
    # gunicorn >= 25's control socket defaults to one path per user (~/.gunicorn/gunicorn.ctl),
    # shared by every instance and unwritable under systemd's ProtectHome: signals and
    # systemctl are the interface instead.
    "control_socket_disable": True,
    "when_ready": lifecycle.when_ready,
    "post_fork": lifecycle.post_fork,
    "post_worker_init": lifecycle.post_worker_init,
    "worker_exit": lifecycle.worker_exit,
}


def parse_args(argv=None):
    """The command line."""
    p = argparse.ArgumentParser(prog="switchboard",
                                description="OpenAI-compatible gateway to every LLM provider.")
    p.add_argument("--config", help="LiteLLM-format config.yaml")
    p.add_argument("--model", help="serve one model (e.g. gpt-4o-mini, groq/llama3-8b-8192)")
    p.add_argument("--host", default="0.0.0.0", help="address to bind (default 0.0.0.0)")
    p.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    p.add_argument("--workers", type=int, default=1, help="gunicorn gevent workers (default 1)")
    p.add_argument("--debug", action="store_true", help="debug logging")
    return p.parse_args(argv)


def check_port(host, port):
    """Fail early and clearly when the address is taken (gunicorn would retry for 5 s)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise SystemExit(f"switchboard: port {port} on {host} is already in use") from None
            raise SystemExit(f"switchboard: cannot bind {host}:{port}: {exc.strerror}") from None


def main(argv=None):
    """Entry point of the ``switchboard`` command."""
    words = sys.argv[1:] if argv is None else argv
    if words and words[0] in ("keys", "db"):  # management commands (app/keys/cli.py)
        from app.keys.cli import main as manage
        return manage(words)
    args = parse_args(argv)
    from app.config import ConfigError, load_config, single_model_config
    if args.config and args.model:
        raise SystemExit("switchboard: give --config or --model, not both")
    if args.workers < 1:
        raise SystemExit("switchboard: --workers must be at least 1")
    try:
        load_config(args.config if args.config else
                    single_model_config(args.model) if args.model else None)
    except ConfigError as exc:
        raise SystemExit(f"switchboard: bad config: {exc}") from None
    if args.config:
        os.environ["SWITCHBOARD_CONFIG"] = os.path.abspath(args.config)
    elif args.model:
        os.environ["SWITCHBOARD_MODEL"] = args.model
    check_port(args.host, args.port)
    server = [sys.executable, "-m", "app.server", args.host, str(args.port), str(args.workers)]
    sys.stdout.flush()
    os.execv(sys.executable, server + (["--debug"] if args.debug else []))


if __name__ == "__main__":
    sys.exit(main())
