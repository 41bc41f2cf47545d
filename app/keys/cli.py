"""``switchboard keys ...`` (against a running gateway) and ``switchboard db upgrade``.

    switchboard keys generate [--alias A] [--models m1,m2] [--max-budget X] [--budget-duration D]
                              [--rpm N] [--tpm N] [--parallel N] [--duration D] [--team T]
                              [--user U]
    switchboard keys list | info KEY | update KEY [same options] | block KEY | unblock KEY |
                     delete KEY...
    switchboard db upgrade [--config config.yaml]

The keys commands speak HTTP to ``--url`` (default http://127.0.0.1:8000) with the master key
from ``SWITCHBOARD_MASTER_KEY``, and print readable tables.
"""
import argparse
import json
import os
import sys

_COLUMNS = ("token_id", "key_alias", "team_id", "user_id", "spend", "max_budget", "rpm_limit",
            "tpm_limit", "blocked", "expires")
_OPTIONS = (("--alias", "key_alias", str), ("--models", "models", lambda v: v.split(",")),
            ("--max-budget", "max_budget", float), ("--budget-duration", "budget_duration", str),
            ("--rpm", "rpm_limit", int), ("--tpm", "tpm_limit", int),
            ("--parallel", "max_parallel_requests", int), ("--duration", "duration", str),
            ("--team", "team_id", str), ("--user", "user_id", str))


def _parser():
    p = argparse.ArgumentParser(prog="switchboard keys")
    p.add_argument("--url", default=os.environ.get("SWITCHBOARD_URL", "http://127.0.0.1:8000"))
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("generate", "update"):
        cmd = sub.add_parser(name)
        if name == "update":
            cmd.add_argument("key")
        for flag, _field, kind in _OPTIONS:
            cmd.add_argument(flag, type=kind)
    sub.add_parser("list")
    for name in ("info", "block", "unblock"):
        sub.add_parser(name).add_argument("key")
    sub.add_parser("delete").add_argument("keys", nargs="+")
    return p


def _call(args, method, path, body=None, params=None):
    import requests
    master = os.environ.get("SWITCHBOARD_MASTER_KEY")
    if not master:
        raise SystemExit("switchboard keys: set SWITCHBOARD_MASTER_KEY")
    try:
        r = requests.request(method, args.url.rstrip("/") + path, json=body, params=params,
                             headers={"Authorization": f"Bearer {master}"}, timeout=30)
    except requests.RequestException as exc:
        raise SystemExit(f"switchboard keys: cannot reach {args.url}: {exc}") from None
    data = r.json() if r.content else {}
    if r.status_code >= 400:
        raise SystemExit(f"switchboard keys: {r.status_code} "
                         f"{data.get('error', {}).get('message', r.text)}")
    return data


def table(rows, columns=_COLUMNS):
    """Rows (dicts) as an aligned text table."""
    cells = [[_cell(c, row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def _cell(name, value):
    if value is None:
        return "-"
    if name == "token_id":
        return value[:12]
    return str(value)


def _fields(args):
    return {field: getattr(args, flag[2:].replace("-", "_")) for flag, field, _k in _OPTIONS
            if getattr(args, flag[2:].replace("-", "_")) is not None}


def keys_main(argv):
    """Entry point of ``switchboard keys``."""
    args = _parser().parse_args(argv)
    if args.command == "generate":
        made = _call(args, "POST", "/key/generate", _fields(args))
        print(f"key: {made['key']}   (shown once: store it now)")
        print(table([made]))
    elif args.command == "update":
        print(table([_call(args, "POST", "/key/update", {"key": args.key, **_fields(args)})]))
    elif args.command == "list":
        found = _call(args, "GET", "/key/list", params={"return_full_object": "true"})
        print(table(found["keys"]))
    elif args.command == "info":
        print(json.dumps(_call(args, "GET", "/key/info", params={"key": args.key})["info"],
                         indent=2))
    elif args.command in ("block", "unblock"):
        print(table([_call(args, "POST", f"/key/{args.command}", {"key": args.key})]))
    else:
        gone = _call(args, "POST", "/key/delete", {"keys": args.keys})["deleted_keys"]
        print(f"deleted {len(gone)} key(s)")
    return 0


def db_main(argv):
    """Entry point of ``switchboard db upgrade``."""
    p = argparse.ArgumentParser(prog="switchboard db")
    p.add_argument("command", choices=["upgrade"])
    p.add_argument("--config", help="LiteLLM-format config.yaml (its database_url)")
    args = p.parse_args(argv)
    from app import store
    from app.config import ConfigError, load_config
    try:
        settings = load_config(args.config)
    except ConfigError as exc:
        raise SystemExit(f"switchboard: bad config: {exc}") from None
    target = store.Store(store.database_url(settings))
    target.ensure_schema()
    print(f"switchboard: database schema is up to date ({target.dialect})")
    target.dispose()
    return 0


def main(argv):
    """``switchboard keys ...`` or ``switchboard db ...``; None when argv is neither."""
    if argv and argv[0] == "keys":
        return keys_main(argv[1:])
    if argv and argv[0] == "db":
        return db_main(argv[1:])
    return None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
