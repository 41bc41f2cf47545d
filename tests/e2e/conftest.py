"""End-to-end fixtures: the real gateway process in front of a fake OpenAI process.

Processes are expensive (gunicorn needs about a second to boot), so the fake upstream and the
common gateways live for the whole session; each test resets the fake instead. Gateways with a
special configuration are started by the module that needs them, through ``start_gateway``.
"""
import socket

import pytest

from .helpers import FAKE_KEY, HERE, MASTER_KEY, SECTION_KEY, UPSTREAM_KEY, model, start_gateway


# The gateway under test runs in its own process, so a socket this process leaves to the
# garbage collector is test plumbing (an SDK or requests connection), and the collector reports
# it during whichever later test happens to run then (seen once in CI, on an unrelated test).
# The server's own sockets are checked by what the tests assert, not by this process's GC.
_CLIENT_SOCKETS_AT_GC = (
    "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning",
    "ignore:unclosed <socket.socket:ResourceWarning",
)


def pytest_collection_modifyitems(items):
    """Every test under tests/e2e is an e2e test (they start real processes)."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.e2e)
            for rule in _CLIENT_SOCKETS_AT_GC:
                item.add_marker(pytest.mark.filterwarnings(rule))


@pytest.fixture(scope="session")
def closed_port():
    """A port that is bound but never listens: connecting to it is refused, reliably."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def main_config(fake_base, closed_port):
    """The shared gateway's config: one model per upstream behaviour the tests need."""
    up = {"api_base": fake_base, "api_key": UPSTREAM_KEY}
    return {
        "environment_variables": {"SECTION_KEY": SECTION_KEY},
        "model_list": [
            model("gpt-3.5-turbo", "openai/gpt-3.5-turbo", api_base=fake_base,
                  api_key="os.environ/FAKE_KEY"),
            model("gpt-4o-mini", "openai/gpt-4o-mini", api_base=fake_base,
                  api_key="os.environ/SECTION_KEY"),
            model("text-embedding-ada-002", "openai/text-embedding-ada-002", **up),
            model("gpt-3.5-turbo-instruct", "openai/gpt-3.5-turbo-instruct", **up),
            model("demo", "mock/demo"),
            model("mock-fixed", "mock/fixed", mock_response="a fixed reply"),
            model("bad-key", "openai/gpt-3.5-turbo", api_base=fake_base, api_key="sk-bad"),
            model("slow", "openai/gpt-3.5-turbo", timeout=1, **up),
            model("unreachable", "openai/gpt-3.5-turbo", api_key=UPSTREAM_KEY,
                  api_base=f"http://127.0.0.1:{closed_port}/v1"),
            model("pair", "openai/gpt-a", **up),
            model("pair", "openai/gpt-b", **up),
        ],
        "litellm_settings": {"drop_params": True, "num_retries": 0, "request_timeout": 30},
        "general_settings": {"max_request_size_mb": 1},
    }


@pytest.fixture(scope="session")
def gateway(tmp_path_factory, fake_upstream, closed_port):
    """The shared gateway (no master key): many models, all behaviours of the fake."""
    gw = start_gateway(tmp_path_factory.mktemp("gw-main"),
                       main_config(fake_upstream.base, closed_port), env={"FAKE_KEY": FAKE_KEY})
    yield gw
    gw.stop()


@pytest.fixture(scope="session")
def master_gateway(tmp_path_factory, fake_upstream):
    """A gateway protected by general_settings.master_key."""
    config = {
        "model_list": [model("gpt-3.5-turbo", "openai/gpt-3.5-turbo", api_base=fake_upstream.base,
                             api_key=UPSTREAM_KEY),
                       model("demo", "mock/demo")],
        "litellm_settings": {"drop_params": True, "num_retries": 0},
        "general_settings": {"master_key": MASTER_KEY},
    }
    gw = start_gateway(tmp_path_factory.mktemp("gw-master"), config)
    yield gw
    gw.stop()


@pytest.fixture
def client(gateway):
    """An openai client on the shared gateway, seed style (base_url without /v1)."""
    with gateway.client(base_url=gateway.url) as c:
        yield c


