"""deploy/nginx in front of gunicorn from deploy/gunicorn.conf.py, driven by the openai SDK."""
import json
import re
import signal
import ssl
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import httpx2
import openai
import pytest

from tests.e2e.helpers import UPSTREAM_KEY, free_port, model, text_of_stream, wait_for

from .conftest import Load, nginx_args, render_nginx, require_tool, start_behind_nginx, start_nginx

WORDS = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
HELLO = [{"role": "user", "content": WORDS}]


@pytest.fixture(scope="module")
def stack(tmp_path_factory, fake_upstream):
    """(gateway, nginx): one gunicorn worker behind nginx."""
    up = {"api_base": fake_upstream.base, "api_key": UPSTREAM_KEY}
    config = {
        "model_list": [model("gpt-3.5-turbo", "openai/gpt-3.5-turbo", **up),
                       model("text-embedding-ada-002", "openai/text-embedding-ada-002", **up),
                       model("slow", "openai/gpt-3.5-turbo", timeout=1, **up)],
        "litellm_settings": {"num_retries": 0},
        "general_settings": {"max_request_size_mb": 16},
    }
    gateway, nginx = start_behind_nginx(tmp_path_factory.mktemp("nginx-stack"), config)
    yield gateway, nginx
    nginx.stop()
    gateway.stop()


@pytest.fixture
def client(stack):
    """An openai client talking to nginx."""
    _, nginx = stack
    with openai.OpenAI(api_key="anything", base_url=nginx.url + "/v1", max_retries=0,
                       timeout=30) as c:
        yield c


def test_rendered_site_passes_nginx_t(tmp_path):
    nginx = require_tool("nginx", "/usr/sbin/nginx")
    conf = render_nginx(tmp_path, 8000, 8080)
    args = nginx_args(nginx, tmp_path, conf)
    result = subprocess.run([*args, "-t"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


def test_chat(client, fake):
    reply = client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO)

    assert reply.choices[0].message.content == "echo: " + WORDS
    assert fake.requests("/chat/completions")[0]["headers"]["authorization"] == \
        f"Bearer {UPSTREAM_KEY}"


def test_embeddings(client, fake):
    result = client.embeddings.create(model="text-embedding-ada-002", input=["a", "b"])

    assert [d.index for d in result.data] == [0, 1] and len(result.data[0].embedding) == 8


def test_request_id_passes_through_both_ways(client, stack, fake):
    _, nginx = stack
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-3.5-turbo", messages=HELLO, extra_headers={"X-Request-Id": "trace-42"})
    generated = client.chat.completions.with_raw_response.create(
        model="gpt-3.5-turbo", messages=HELLO)

    assert raw.headers["x-request-id"] == "trace-42"
    # Without one, nginx's $request_id is what the gateway gets and echoes.
    own = generated.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", own)
    # nginx writes its line once the response is done, maybe just after the client has it.
    assert wait_for(lambda: {"trace-42", own} <= {json.loads(line)["request_id"]
                                                  for line in nginx.access_log()})


def test_slow_stream_reaches_the_client_chunk_by_chunk(client, fake):
    fake.script({"stream_delay_ms": 300})
    arrivals, chunks = [], []
    stream = client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO, stream=True)
    with stream:
        for chunk in stream:
            arrivals.append(time.monotonic())
            chunks.append(chunk)

    assert text_of_stream(chunks) == "echo: " + WORDS
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:])]
    # Buffered by nginx, every chunk would arrive at once at the end: here each is 300 ms apart.
    assert len(gaps) >= 4 and all(gap > 0.2 for gap in gaps), gaps


def test_client_hang_up_behind_nginx_closes_the_upstream_at_once(client, fake):
    fake.reset()
    fake.script({"stream_delay_ms": 3000})
    stream = client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO, stream=True)
    with stream:
        next(iter(stream))
    # nginx passes the hang-up on; the gateway notices while it waits for the next event.
    assert wait_for(lambda: fake.streams()[0]["cut"]), fake.streams()
    assert fake.streams()[0]["cut_after_s"] < 1.5, fake.streams()


def test_image_sized_body_is_accepted(client, fake):
    image = "data:image/png;base64," + "A" * (6 * 1024 * 1024)  # above nginx's 1 MB default
    content = [{"type": "text", "text": "describe"}, {"type": "image_url",
                                                       "image_url": {"url": image}}]
    reply = client.chat.completions.create(model="gpt-3.5-turbo",
                                           messages=[{"role": "user", "content": content}])

    assert reply.choices[0].message.content.strip() == "echo: describe"


def test_oversized_body_gets_the_gateways_json_413(client, fake):
    big = "x" * (17 * 1024 * 1024)  # over the gateway's 16 MB, under nginx's limit
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="gpt-3.5-turbo",
                                       messages=[{"role": "user", "content": big}])

    assert caught.value.status_code == 413
    assert caught.value.response.json()["error"]["type"]


def test_stop_behind_nginx_does_not_wait_for_idle_pooled_connections(tmp_path, fake):
    config = {"model_list": [model("gpt-3.5-turbo", "openai/gpt-3.5-turbo",
                                   api_base=fake.base, api_key=UPSTREAM_KEY)]}
    gateway, nginx = start_behind_nginx(tmp_path, config)
    try:
        with openai.OpenAI(api_key="x", base_url=nginx.url + "/v1", max_retries=0) as client, \
                ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: client.chat.completions.create(
                model="gpt-3.5-turbo", messages=HELLO), range(32)))
        # nginx now keeps several idle connections to the worker (for up to 30 s).
        started = time.monotonic()
        gateway.proc.send_signal(signal.SIGTERM)
        code = gateway.proc.wait(timeout=20)
        elapsed = time.monotonic() - started
    finally:
        nginx.stop()
        gateway.stop()

    assert code == 0 and elapsed < 5, (elapsed, gateway.stderr())
    assert "graceful timeout" not in gateway.stderr()


def test_hup_under_load_behind_nginx_loses_nothing(tmp_path, fake):
    config = {"model_list": [model("gpt-3.5-turbo", "openai/gpt-3.5-turbo",
                                   api_base=fake.base, api_key=UPSTREAM_KEY)],
              "litellm_settings": {"num_retries": 0}}
    gateway, nginx = start_behind_nginx(tmp_path, config, workers=2)

    def client():
        return openai.OpenAI(api_key="x", base_url=nginx.url + "/v1", max_retries=0, timeout=30)

    try:
        with Load(client, HELLO, threads=6) as load:
            for _ in range(2):
                assert wait_for(lambda: len(load.done) >= 30, timeout=10)
                before = len(load.done)
                gateway.proc.send_signal(signal.SIGHUP)
                assert wait_for(lambda: len(load.done) >= before + 60, timeout=15)
            exits = wait_for(lambda: gateway.stderr().count("Worker exiting") >= 4, timeout=10)
    finally:
        nginx.stop()
        gateway.stop()

    assert load.failures == []
    assert exits, gateway.stderr()  # both generations of old workers drained and left
    assert set(load.done) == {"echo: " + WORDS}


def stalled_stream(client, fake):
    """A stream whose upstream sends its first event, then stalls past the 1 s read timeout."""
    fake.script({"stream_delay_ms": 3000})
    chunks = []
    stream = client.chat.completions.create(model="slow", messages=HELLO, stream=True)
    started = time.monotonic()
    with pytest.raises(openai.APIError) as caught, stream:
        for chunk in stream:
            chunks.append(chunk)
    return chunks, time.monotonic() - started, caught.value


def test_stalled_upstream_ends_the_stream_with_an_error_event(client, fake):
    chunks, elapsed, _ = stalled_stream(client, fake)

    assert chunks and chunks[0].choices[0].delta.role == "assistant"
    assert elapsed < 2.5  # cut by the read timeout, not by the upstream's 3 s pause
    assert fake.streams()[0]["cut"] or fake.streams()[0]["sent"] < fake.streams()[0]["total"]


def test_stalled_upstream_error_event_says_timeout(client, fake):
    _, _, error = stalled_stream(client, fake)

    assert "timed out" in str(error).lower()
    assert error.code == "timeout"


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for 127.0.0.1: (certificate, key)."""
    openssl = require_tool("openssl", installed_by_ci=False)
    cert, key = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def test_tls_server_block_streams(stack, fake, tmp_path, certificate):
    gateway, _ = stack
    tls_port = free_port()
    nginx = start_nginx(tmp_path / "nginx-tls", gateway.port, tls=(tls_port, *certificate))
    fake.script({"stream_delay_ms": 200})
    try:
        trust = ssl.create_default_context(cafile=str(certificate[0]))
        with httpx2.Client(verify=trust) as http, \
                openai.OpenAI(api_key="x", base_url=f"https://127.0.0.1:{tls_port}/v1",
                              max_retries=0, http_client=http) as client:
            arrivals, chunks = [], []
            with client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO,
                                                stream=True) as stream:
                for chunk in stream:
                    arrivals.append(time.monotonic())
                    chunks.append(chunk)
    finally:
        nginx.stop()

    assert text_of_stream(chunks) == "echo: " + WORDS
    assert all(later - earlier > 0.1 for earlier, later in zip(arrivals, arrivals[1:]))
