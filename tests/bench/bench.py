"""Switchboard's own small benchmark: requests/s, p50/p99, CPU per request and RSS.

    python tests/bench/bench.py [--duration 10] [--concurrency 1,64]
                                [--scenarios chat,stream,embed,messages,messages-stream,vkey,
                                 responses,responses_stored,responses_stream]
                                [--redis-url URL]  (scenario vkey)
                                [--workers 1] [--upstream-latency-ms 0] [--cpu 1]
                                [--switchboard PATH] [--soak N] [--quiet-wait 0] [--no-ui]
                                [--router simple-shuffle,least-busy@redis,...] [--redis-url URL]
                                [--cache local|redis]

Not part of the test suite (pytest collects nothing here). Needs Linux (/proc); uses ``wrk`` when
it is on PATH (apt-get install wrk), else a Python client.

Method
  * ``fast_upstream.py`` (asyncio, pre-rendered bodies) plays OpenAI on 127.0.0.1; it and the load
    generators run on the CPUs not given to the gateway (``--cpu``, default CPU 1 on a 2+ core
    machine), so the gateway's CPU is its own.
  * The gateway is the real ``switchboard`` command with a temporary LiteLLM-format config: two
    models on the fake upstream, a master key, the access log on (to a temp file).  We time the
    start to the first proxied 200 and take the idle RSS: VmRSS summed over arbiter + workers.
  * Each run gets an unmeasured warm-up at the same concurrency, then waits until the gateway is
    idle, measures, and waits until it is idle again.  chat/embed: ``wrk`` (closed loop, a Lua
    script POSTing the body with Bearer auth and printing latency percentiles).  stream: Python
    threads (``--stream-concurrency``, 16) each reading whole streams and checking for [DONE].
    messages / messages-stream: the same conversation as chat / stream sent to /v1/messages in
    Anthropic's format (translated to the OpenAI upstream and back), to compare the front door's
    cost with the plain chat completion in the same run.
  * CPU ms/req = utime+stime of the gateway's process tree (/proc/<pid>/stat, reaped children
    included) from idle to idle, divided by the requests the upstream received in that window.
    errors = non-2xx + socket errors + timeouts.  ``foreign`` = machine CPU time (/proc/stat) not
    spent by the gateway, the upstream or this benchmark; runs with > 0.15 cores are flagged
    ``contended``: someone else was using the machine, so compare with care.  ``--quiet-wait S``
    waits up to S seconds before each run for the machine to go idle.
  * ``vkey``: chat with a virtual key that has rpm/tpm limits and a budget (Redis on: the
    ``--redis-url``, spend rows on, to a SQLite file in the temp dir); compare with ``chat``
    (master key) of the same run: ``--scenarios chat,vkey``.
  * ``--cache local|redis`` turns on the response cache (``mode: default_off``, so chat, stream
    and embed still reach the provider) and adds the scenarios ``hit`` (chat answered from the
    cache) and ``hit-stream`` (a cached answer replayed as a stream) unless --scenarios names
    them; their CPU ms/req divides by the requests served, as the upstream sees none. Redis: a
    free test db on 127.0.0.1:6379 (tests/services.py), or ``--redis-url``.
  * ``--soak N``: N mixed requests (chat, streams, one in ten abandoned mid-stream, embeddings)
    at concurrency 16, RSS before / half-way / after: the second half should not grow.

``--router V1,V2,...`` runs the scenarios once per router variant, each against a fresh gateway
whose chat model has two deployments: ``<routing_strategy>`` keeps the router state in the
worker, ``<routing_strategy>@redis`` in Redis (``--redis-url``, default a free test db; keys expire).
Compare e.g. ``simple-shuffle,least-busy@redis,usage-based-routing-v2@redis`` in one run.

Everything binds 127.0.0.1, the whole run has a time limit, and every process it started is
stopped at the end (also on Ctrl-C, errors or SIGTERM).
"""
import argparse
import http.client
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import clients

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from tests.services import claim_redis_db, release_redis_db  # noqa: E402
from procfs import (cpu_seconds, machine_busy_seconds, machine_facts, own_seconds,
                    rss_mb)

HERE = os.path.dirname(os.path.abspath(__file__))
MASTER_KEY = "sk-bench-master"
WRK_LUA = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY")
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.body = f:read("*a")
f:close()
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.min, latency.max))
end
"""


# ---------------------------------------------------------------- processes

def start_upstream(latency_ms, cpus):
    cmd = [sys.executable, os.path.join(HERE, "fast_upstream.py"), "--port", "0",
           "--latency-ms", str(latency_ms), "--cpu", ",".join(map(str, sorted(cpus)))]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    if not select.select([proc.stdout], [], [], 15)[0]:
        raise RuntimeError("fake upstream did not start")
    line = proc.stdout.readline().decode()
    if not line.startswith("LISTENING"):
        raise RuntimeError(f"fake upstream: {line!r}")
    return proc, int(line.split()[1])


def cache_settings(args):
    """litellm_settings for --cache: opt-in only, so the other scenarios stay relays."""
    if not args.cache:
        return {}
    params = {"type": args.cache, "mode": "default_off", "namespace": "switchboard-bench"}
    if args.cache == "redis":
        params["url"] = args.redis_url
    return {"cache": True, "cache_params": params}


def write_config(tmp, upstream_port, args, variant=None):
    base = f"http://127.0.0.1:{upstream_port}/v1"
    params = {"api_base": base, "api_key": "sk-fake-upstream"}
    priced = {"input_cost_per_token": 1e-7, "output_cost_per_token": 2e-7}
    config = {  # JSON is YAML
        "model_list": [
            {"model_name": "gpt-3.5-turbo",
             "litellm_params": dict(params, model="openai/gpt-3.5-turbo", **priced)},
            {"model_name": "text-embedding-3-small",
             "litellm_params": dict(params, model="openai/text-embedding-3-small")}],
        "litellm_settings": {"drop_params": True, "num_retries": 0, "request_timeout": 60,
                             **cache_settings(args)},
        "general_settings": {"master_key": MASTER_KEY,
                             "access_log": os.path.join(tmp, "access.log"), "ui": not args.no_ui},
    }
    config["general_settings"]["database_url"] = f"sqlite:///{os.path.join(tmp, 'keys.db')}"
    if "vkey" in args.scenarios:
        config["router_settings"] = {"redis_url": args.redis_url}
    if variant:  # a router variant: two chat deployments (limits far away), the strategy
        strategy, _, backend = variant.partition("@")
        config["model_list"][:1] = [
            {"model_name": "gpt-3.5-turbo", "model_info": {"id": f"bench-{n}"},
             "litellm_params": dict(params, model="openai/gpt-3.5-turbo", rpm=10**9)}
            for n in range(2)]
        config["router_settings"] = {"routing_strategy": strategy}
        if backend == "redis":
            config["router_settings"]["redis_url"] = args.redis_url
    path = os.path.join(tmp, "config.yaml")
    with open(path, "w") as f:
        json.dump(config, f, indent=1)
    return path


def start_gateway(args, config, port, log):
    cmd = [args.switchboard, "--config", config, "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(args.workers)]
    cpus = args.gateway_cpus
    # Stored responses (/v1/responses) go to a SQLite file of this run, not the user's data dir.
    env = dict(os.environ, SWITCHBOARD_DATA_DIR=os.path.dirname(config))
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, env=env,
                            preexec_fn=lambda: os.sched_setaffinity(0, cpus))


def stop(proc):
    """SIGTERM the process group we started, SIGKILL what is left after 5 s."""
    if proc is None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(5)
    except subprocess.TimeoutExpired:
        pass
    except ProcessLookupError:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


# ---------------------------------------------------------------- measuring

class Bench:
    def __init__(self, args, gateway, gw_port, upstream, up_port, tmp):
        self.args, self.gateway, self.upstream = args, gateway, upstream
        self.gw_port, self.up_port, self.tmp = gw_port, up_port, tmp
        self.bodies = {k: json.dumps(v).encode() for k, v in
                       (("chat", clients.CHAT), ("stream", clients.STREAM),
                        ("embed", clients.EMBED), ("abandon", clients.SLOW_STREAM),
                        ("vkey", clients.CHAT), ("hit", clients.HIT),
                        ("hit-stream", clients.HIT_STREAM), ("messages", clients.MESSAGES),
                        ("messages-stream", clients.MESSAGES_STREAM),
                        ("responses", clients.RESPONSES),
                        ("responses_stored", clients.RESPONSES_STORED),
                        ("responses_stream", clients.RESPONSES_STREAM))}
        self.wrk = shutil.which("wrk")
        self.vkey = None

    def upstream_count(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.up_port, timeout=5)
        try:
            conn.request("GET", "/_count")
            return int(conn.getresponse().read())
        finally:
            conn.close()

    def snapshot(self):
        return {"t": time.monotonic(), "gw": cpu_seconds(self.gateway.pid),
                "up": cpu_seconds(self.upstream.pid), "own": own_seconds(),
                "all": machine_busy_seconds(), "count": self.upstream_count()}

    def foreign_cores(self, a, b):
        """Cores used between snapshots a and b by programs other than ours."""
        d = {k: b[k] - a[k] for k in a}
        return max(0.0, (d["all"] - d["gw"] - d["up"] - d["own"]) / d["t"])

    def wait_quiet(self):
        """Wait (at most --quiet-wait s) until other programs use < 0.1 cores over 1 s."""
        end = time.monotonic() + self.args.quiet_wait
        while time.monotonic() < end:
            a = self.snapshot()
            time.sleep(1)
            if self.foreign_cores(a, self.snapshot()) < 0.1:
                return

    def quiesce(self, limit=5.0):
        """Wait until the gateway uses < 5% of a core over 0.2 s (at most ``limit`` s)."""
        end, last = time.monotonic() + limit, cpu_seconds(self.gateway.pid)
        while time.monotonic() < end:
            time.sleep(0.2)
            now = cpu_seconds(self.gateway.pid)
            if now - last < 0.01:
                return
            last = now

    def load(self, kind, concurrency, seconds):
        if kind not in clients.STREAMS and self.wrk:
            return self.run_wrk(kind, concurrency, seconds)
        return clients.closed_loop(self.gw_port, self.key_for(kind), kind, self.bodies[kind],
                                   concurrency, seconds)

    def run_wrk(self, kind, concurrency, seconds):
        body_file = os.path.join(self.tmp, f"{kind}.json")
        with open(body_file, "wb") as f:
            f.write(self.bodies[kind])
        env = dict(os.environ, BENCH_KEY=self.key_for(kind), BENCH_BODY=body_file)
        cmd = [self.wrk, "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s",
               "--timeout", "10s",
               "-s", os.path.join(self.tmp, "post.lua"),
               f"http://127.0.0.1:{self.gw_port}{clients.PATHS[kind]}"]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 30)
        line = next((l for l in out.stdout.splitlines() if l.startswith("BENCH ")), None)
        if line is None:
            raise RuntimeError(f"wrk failed: {out.stdout[-500:]} {out.stderr[-500:]}")
        n, micros, sock_err, status_err, p50, p99, _, _ = map(int, line.split()[1:])
        return {"requests": n, "errors": sock_err + status_err, "seconds": micros / 1e6,
                "p50": p50 / 1e6, "p99": p99 / 1e6}

    def key_for(self, kind):
        """The master key, or for ``vkey`` a virtual key with limits and a budget."""
        if kind != "vkey":
            return MASTER_KEY
        if self.vkey is None:
            conn = http.client.HTTPConnection("127.0.0.1", self.gw_port, timeout=10)
            conn.request("POST", "/key/generate", json.dumps(
                {"rpm_limit": 10**9, "tpm_limit": 10**12, "max_budget": 10**6,
                 "budget_duration": "30d", "key_alias": "bench"}),
                {"Authorization": f"Bearer {MASTER_KEY}", "Content-Type": "application/json"})
            self.vkey = json.loads(conn.getresponse().read())["key"]
            conn.close()
        return self.vkey

    def measure(self, kind, concurrency):
        args = self.args
        self.wait_quiet()
        self.load(kind, concurrency, args.warmup)
        self.quiesce()
        before = self.snapshot()
        result = self.load(kind, concurrency, args.duration)
        self.quiesce()
        after = self.snapshot()
        d = {k: after[k] - before[k] for k in before}
        served = result["requests"] if kind.startswith("hit") else d["count"]
        return dict(result, scenario=kind, concurrency=concurrency,
                    rps=(result["requests"] - result["errors"]) / result["seconds"],
                    cpu_ms=1000 * d["gw"] / max(1, served), upstream_requests=d["count"],
                    gw_cores=d["gw"] / d["t"], foreign_cores=self.foreign_cores(before, after),
                    rss_mb=rss_mb(self.gateway.pid))

    def soak(self, total):
        """RSS before, after half and after all of ``total`` mixed requests."""
        self.quiesce()
        rss = [rss_mb(self.gateway.pid)]
        outcomes = {}
        for half in (total // 2, total - total // 2):
            deadline = time.monotonic() + self.args.soak_timeout / 2
            got = clients.soak(self.gw_port, MASTER_KEY, self.bodies, half, 16, deadline)
            for k, v in got.items():
                outcomes[k] = outcomes.get(k, 0) + v
            time.sleep(1)
            self.quiesce()
            rss.append(rss_mb(self.gateway.pid))
        with open(os.path.join(self.tmp, "access.log"), "rb") as f:
            disconnects = sum(b'"status":499' in line for line in f)
        return rss, outcomes, disconnects


# ---------------------------------------------------------------- report

def fmt(value, spec):
    return "-" if value is None else format(value, spec)


def report(args, facts, startup_s, idle_rss, rows, soak):
    print(f"\n### Switchboard benchmark\n\n{facts}  ")
    print(f"gateway: {args.workers} worker(s) on CPU {args.cpu}; fake upstream + load generators "
          f"on CPU {','.join(map(str, sorted(args.other_cpus)))}; upstream latency "
          f"{args.upstream_latency_ms:g} ms; {args.duration:g} s per run after "
          f"{args.warmup:g} s warm-up; load: {'wrk' if shutil.which('wrk') else 'python'} "
          f"(chat, embed), python threads (stream)  ")
    print(f"start to first proxied 200: {startup_s:.2f} s; idle RSS (arbiter + workers): "
          f"{idle_rss:.0f} MB\n")
    print("| scenario | conc | req/s | p50 ms | p99 ms | errors | CPU ms/req | gateway cores "
          "| RSS after MB | note |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        p50 = r["p50"] and r["p50"] * 1000
        p99 = r["p99"] and r["p99"] * 1000
        note = f"contended ({r['foreign_cores']:.2f} foreign cores)" \
            if r["foreign_cores"] > 0.15 else ""
        print(f"| {r['scenario']} | {r['concurrency']} | {r['rps']:.0f} | {fmt(p50, '.2f')} | "
              f"{fmt(p99, '.2f')} | {r['errors']} | {r['cpu_ms']:.2f} | {r['gw_cores']:.2f} | "
              f"{r['rss_mb']:.0f} | "
              f"{note} |")
    if soak:
        rss, outcomes, disconnects = soak
        growth = rss[2] - rss[1]
        verdict = "flat" if growth < max(3.0, 0.05 * rss[1]) else "GROWING"
        print(f"\nsoak {args.soak} requests {outcomes}: RSS {rss[0]:.1f} -> {rss[1]:.1f} "
              f"(half) -> {rss[2]:.1f} MB (end): {verdict} ({growth:+.1f} MB in the second half); "
              f"access log: {disconnects} client disconnects (499)")


# ---------------------------------------------------------------- main

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per run")
    p.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each run")
    p.add_argument("--concurrency", default="1,64", help="chat/embed connections, e.g. 1,16,64")
    p.add_argument("--stream-concurrency", type=int, default=16)
    p.add_argument("--scenarios", default="chat,stream,embed")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--redis-url", default=None,
                   help="Redis for vkey, @redis router variants and --cache redis (never db 0; "
                        "default: a free test db, see tests/services.py)")
    p.add_argument("--upstream-latency-ms", type=float, default=0.0)
    p.add_argument("--cpu", default=None,
                   help="gateway CPUs, e.g. 1 or 0,1 (default: 1 on 2+ cores)")
    p.add_argument("--switchboard", default=os.path.join(os.path.dirname(sys.executable),
                                                         "switchboard"))
    p.add_argument("--no-ui", action="store_true",
                   help="general_settings.ui: false (the dashboard's cost on the API path)")
    p.add_argument("--soak", type=int, default=0, help="N mixed requests, then RSS flat check")
    p.add_argument("--router", default="", help="router variants, e.g. "
                   "simple-shuffle,least-busy@redis,usage-based-routing-v2@redis")
    p.add_argument("--soak-timeout", type=float, default=300.0)
    p.add_argument("--quiet-wait", type=float, default=0.0,
                   help="before each run wait up to this many s for other programs to go idle")
    p.add_argument("--cache", choices=("local", "redis"), default=None,
                   help="turn on the response cache and add the hit and hit-stream scenarios")
    args = p.parse_args(argv)
    if args.cache and not any(s.startswith("hit") for s in args.scenarios.split(",")):
        args.scenarios += ",hit,hit-stream"
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c]
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    args.router = [v for v in args.router.split(",") if v]
    if set(args.scenarios) - set(clients.PATHS):
        p.error(f"scenarios are {','.join(clients.PATHS)}")
    cpus = os.sched_getaffinity(0)
    args.cpu = args.cpu or ("1" if len(cpus) > 1 and 1 in cpus else str(min(cpus)))
    args.gateway_cpus = {int(c) for c in args.cpu.split(",")}
    args.other_cpus = (cpus - args.gateway_cpus) or cpus
    return args


def time_budget(args):
    runs = len(args.concurrency) * len([s for s in args.scenarios if s not in clients.STREAMS])
    runs += len([s for s in args.scenarios if s in clients.STREAMS])
    runs *= max(1, len(args.router))
    return int(120 + runs * (args.duration + args.warmup + args.quiet_wait + 45) + (args.soak_timeout + 30
                                                                    if args.soak else 0))


def on_signal(signum, frame):
    raise SystemExit(f"bench: stopped by signal {signum}")


def run(args, tmp, procs):
    upstream, up_port = start_upstream(args.upstream_latency_ms, args.other_cpus)
    procs.append(upstream)
    for variant in args.router or [None]:
        if variant:
            print(f"\n#### router: {variant}", flush=True)
        run_gateway(args, tmp, procs, upstream, up_port, variant)


def run_gateway(args, tmp, procs, upstream, up_port, variant):
    config = write_config(tmp, up_port, args, variant)
    gw_port = clients.free_port()
    with open(os.path.join(tmp, "post.lua"), "w") as f:
        f.write(WRK_LUA)
    log = os.path.join(tmp, "gateway.log")
    started = time.monotonic()
    with open(log, "wb") as out:
        gateway = start_gateway(args, config, gw_port, out)
    procs.append(gateway)
    bench = Bench(args, gateway, gw_port, upstream, up_port, tmp)
    if not clients.wait_http_ok(gw_port, MASTER_KEY, bench.bodies["chat"], started + 60):
        with open(log, errors="replace") as f:
            raise RuntimeError(f"gateway never answered 200:\n{f.read()[-2000:]}")
    startup_s = time.monotonic() - started
    time.sleep(2)
    idle_rss = rss_mb(gateway.pid)
    rows = []
    for kind in args.scenarios:
        for conc in [args.stream_concurrency] if kind in clients.STREAMS \
                else args.concurrency:
            rows.append(bench.measure(kind, conc))
            print(f"  {kind} c{conc}: {rows[-1]['rps']:.0f} req/s", file=sys.stderr, flush=True)
    soak = bench.soak(args.soak) if args.soak else None
    report(args, machine_facts(), startup_s, idle_rss, rows, soak)
    if gateway.poll() is not None:
        raise RuntimeError(f"gateway exited during the run (code {gateway.returncode})")
    stop(gateway)
    procs.remove(gateway)


def claim_redis(args):
    """Redis wanted without --redis-url: a test db of our own (released at the end)."""
    wanted = args.cache == "redis" or "vkey" in args.scenarios \
        or any(v.endswith("@redis") for v in args.router)
    if not wanted or args.redis_url:
        return None
    db, token = claim_redis_db()
    args.redis_url = f"redis://127.0.0.1:6379/{db}"
    return db, token


def main(argv=None):
    args = parse_args(argv)
    os.sched_setaffinity(0, args.other_cpus)   # this process, wrk and the clients
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGALRM, on_signal)
    signal.alarm(time_budget(args))
    tmp, procs = tempfile.mkdtemp(prefix="switchboard-bench-"), []
    claim = claim_redis(args)
    try:
        run(args, tmp, procs)
    finally:
        signal.alarm(0)
        if claim:
            release_redis_db(*claim)
        for proc in reversed(procs):
            stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("bench: interrupted (all processes it started are stopped)")
