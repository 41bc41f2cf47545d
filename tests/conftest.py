"""Shared fixtures: an app built from a LiteLLM-format config mapping, its client, fixtures."""
import json
import pathlib

import pytest

from app import create_app
from tests.e2e.helpers import FAKE_SCRIPT, fake_fixtures
from tests.services import pg_url, redis_clean, redis_url, sqlite_url  # noqa: F401

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
UPSTREAM = "https://upstream.test/v1"


def fixture_bytes(name):
    """Raw bytes of a fixture file (e.g. "openai/chat_completion.json")."""
    return (FIXTURES / name).read_bytes()


def fixture_json(name):
    """A JSON fixture file, parsed."""
    return json.loads(fixture_bytes(name))


def base_config(**general):
    """Two OpenAI-compatible models on a fake upstream and the mock demo."""
    return {
        "model_list": [
            {"model_name": "gpt-3.5-turbo",
             "litellm_params": {"model": "openai/gpt-3.5-turbo", "api_base": UPSTREAM,
                                "api_key": "sk-config-key"}},
            {"model_name": "text-embedding-ada-002",
             "litellm_params": {"model": "openai/text-embedding-ada-002", "api_base": UPSTREAM,
                                "api_key": "sk-config-key"}},
            {"model_name": "demo", "litellm_params": {"model": "mock/demo"}},
        ],
        "litellm_settings": {"num_retries": 0},
        "general_settings": {"access_log": "off", **general},
    }


@pytest.fixture(autouse=True, scope="session")
def _data_dir(tmp_path_factory):
    """Keep the embedded SQLite default out of the user's home during tests."""
    import os
    os.environ["SWITCHBOARD_DATA_DIR"] = str(tmp_path_factory.mktemp("data"))


@pytest.fixture
def make_app():
    """Build an app from a config mapping."""
    def make(config=None, **general):
        return create_app(config if config is not None else base_config(**general))
    return make


@pytest.fixture
def app(make_app):
    """The app with the base config."""
    return make_app()


@pytest.fixture
def client(app):
    """A Flask test client for the base app."""
    return app.test_client()


fake_upstream, fake = fake_fixtures(FAKE_SCRIPT, "fake_upstream", scope="session")
