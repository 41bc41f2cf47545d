"""Gunicorn embedded: a BaseApplication whose workers each build the Flask app.

Run as ``python -m app.server HOST PORT WORKERS [--debug]`` by the ``switchboard`` command after
it has checked the config; this module patches gevent before anything imports ssl.
"""
if __name__ == "__main__":
    from gevent import monkey
    monkey.patch_all()

import sys  # noqa: E402

from gunicorn.app.base import BaseApplication  # noqa: E402


class GatewayServer(BaseApplication):
    """Runs ``create_app()`` in each gevent worker (no preload: gevent patches first)."""

    def __init__(self, options):
        self.options = options
        super().__init__()

    def load_config(self):
        """Apply our settings to gunicorn's config."""
        for key, value in self.options.items():
            if key in self.cfg.settings:  # settings newer than the installed gunicorn: skip
                self.cfg.set(key, value)

    def load(self):
        """Build the app inside the worker, after gevent patched the process."""
        from app import create_app
        return create_app()


def serve(host, port, workers, debug=False):
    """Run gunicorn in the foreground until it is stopped (hooks: app.lifecycle)."""
    from app.cli import GUNICORN_DEFAULTS
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    options = dict(GUNICORN_DEFAULTS, bind=[bind], workers=workers,
                   loglevel="debug" if debug else "info", proc_name="switchboard")
    GatewayServer(options).run()


def main(argv=None):
    """Entry point used by app.cli after the checks."""
    argv = sys.argv[1:] if argv is None else argv
    host, port, workers = argv[0], int(argv[1]), int(argv[2])
    serve(host, port, workers, "--debug" in argv[3:])


if __name__ == "__main__":
    main()
