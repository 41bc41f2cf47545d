import copy
import logging
import os
from pathlib import Path

import pytest

from app.config import (ConfigError, Deployment, Settings, default_config, load_config,
                        single_model_config)

FIXTURES = Path(__file__).parent / "fixtures" / "config"
OPENAI_KEY = "sk-openai-secret-0123456789"
BACKUP_KEY = "sk-backup-secret-0123456789"
GROQ_KEY = "gsk-groq-secret-0123456789"
MASTER_KEY = "sk-master-secret-0123456789"
SECRETS = (OPENAI_KEY, BACKUP_KEY, GROQ_KEY, MASTER_KEY)


@pytest.fixture
def env(monkeypatch):
    """The variables the LiteLLM fixture refers to; BACKUP_API_BASE comes from the file."""
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("BACKUP_API_KEY", BACKUP_KEY)
    monkeypatch.setenv("GROQ_API_KEY", GROQ_KEY)
    monkeypatch.setenv("LITELLM_MASTER_KEY", MASTER_KEY)
    # Registered with monkeypatch so the value environment_variables writes is undone.
    monkeypatch.setenv("BACKUP_API_BASE", "https://overwritten.invalid")
    return monkeypatch


@pytest.fixture
def config_log(caplog, monkeypatch):
    """caplog wired straight to switchboard.config, whatever other tests did to propagation."""
    logger = logging.getLogger("switchboard.config")
    monkeypatch.setattr(logger, "propagate", False)
    logger.addHandler(caplog.handler)
    with caplog.at_level(logging.WARNING, logger="switchboard.config"):
        yield caplog
    logger.removeHandler(caplog.handler)


def entry(model="mock/demo", name="demo", **params):
    return {"model_name": name, "litellm_params": {"model": model, **params}}


def config(*entries, **sections):
    return {"model_list": list(entries) or [entry()], **sections}


def error_of(source):
    with pytest.raises(ConfigError) as info:
        load_config(source)
    return str(info.value)


# --- a real LiteLLM config ------------------------------------------------------------------

def test_litellm_config_loads(env):
    settings = load_config(FIXTURES / "litellm.yaml")

    assert isinstance(settings, Settings)
    assert settings.source == str(FIXTURES / "litellm.yaml")
    assert [d.model_name for d in settings.model_list] == [
        "gpt-4o", "gpt-4o", "fast", "gpt-4o-mini", "demo"]
    assert list(settings.by_name) == ["gpt-4o", "fast", "gpt-4o-mini", "demo"]
    assert settings.by_name["gpt-4o"] == settings.model_list[:2]


def test_litellm_config_deployments(env):
    primary, backup, fast, mini, demo = load_config(FIXTURES / "litellm.yaml").model_list

    assert (primary.id, primary.provider, primary.upstream_model) == (
        "gpt4o-primary", "openai", "gpt-4o")
    assert primary.api_key == OPENAI_KEY and primary.rpm == 600 and primary.timeout == 30.0
    assert primary.model_info == {"id": "gpt4o-primary", "mode": "chat", "max_tokens": 4096}
    assert backup.api_base == "https://backup.example.com/v1"
    assert backup.api_key == BACKUP_KEY and backup.weight == 2.0
    assert backup.extra_headers == {"X-Team": "research"}
    assert (fast.provider, fast.upstream_model, fast.model) == (
        "groq", "llama3-8b-8192", "groq/llama3-8b-8192")
    assert fast.stream_timeout == 10.0 and fast.max_retries == 2
    assert fast.params["aws_region_name"] == "us-east-1"
    assert fast.configurable_clientside_auth_params == ["api_base"]
    assert (mini.provider, mini.upstream_model) == ("openai", "gpt-4o-mini")
    assert mini.api_version == "2024-02-01" and mini.organization == "org-123"
    assert mini.tpm == 100000 and mini.params["input_cost_per_token"] == 1.5e-7
    assert demo.provider == "mock" and demo.mock_response == "hello from the mock"
    assert demo.api_key is None and demo.extra_headers == {}


def test_litellm_config_settings(env):
    settings = load_config(FIXTURES / "litellm.yaml")

    assert settings.master_key == MASTER_KEY
    assert settings.drop_params is True
    assert settings.num_retries == 3  # litellm_settings wins over router_settings
    assert settings.request_timeout == 120.0
    assert settings.max_request_size_mb == 8.0
    assert settings.access_log is None  # YAML "off" is the boolean False
    assert settings.allow_client_side_credentials is False
    assert settings.general_settings["database_url"].startswith("postgresql://")
    assert settings.litellm_settings["success_callback"] == ["langfuse"]
    assert settings.router_settings["routing_strategy"] == "simple-shuffle"


def test_litellm_config_loads_quietly(env, config_log):
    load_config(FIXTURES / "litellm.yaml")
    assert config_log.records == []


def test_environment_variables_are_exported(env):
    load_config(FIXTURES / "litellm.yaml")
    assert os.environ["BACKUP_API_BASE"] == "https://backup.example.com/v1"


def test_environment_variables_values_are_strings(monkeypatch):
    monkeypatch.setenv("SB_RPM", "")
    cfg = config(entry(rpm="os.environ/SB_RPM"), environment_variables={"SB_RPM": 250})
    assert load_config(cfg).model_list[0].rpm == 250
    assert os.environ["SB_RPM"] == "250"


# --- defaults, shortcuts and aliases ---------------------------------------------------------

def test_defaults():
    settings = load_config()

    assert [(d.model_name, d.provider, d.upstream_model) for d in settings.model_list] == [
        ("demo", "mock", "demo")]
    assert settings.source is None and settings.master_key is None
    assert (settings.drop_params, settings.num_retries, settings.request_timeout) == (
        False, 0, 600.0)
    assert settings.allow_client_side_credentials is False
    assert settings.allow_private_api_base is False
    assert settings.max_request_size_mb == 32.0 and settings.access_log == "stdout"
    assert settings.litellm_settings == settings.general_settings == {}


def test_default_config_is_a_fresh_dict():
    first = default_config()
    first["model_list"].clear()
    assert default_config() == {
        "model_list": [{"model_name": "demo", "litellm_params": {"model": "mock/demo"}}]}


def test_single_model_config():
    cfg = single_model_config("gpt-4o-mini")
    assert cfg == {"model_list": [{"model_name": "gpt-4o-mini",
                                   "litellm_params": {"model": "gpt-4o-mini"}}]}
    (dep,) = load_config(cfg).model_list
    assert (dep.model_name, dep.provider, dep.upstream_model) == (
        "gpt-4o-mini", "openai", "gpt-4o-mini")


def test_params_alias():
    settings = load_config({"model_list": [{"model_name": "x", "params": {"model": "mock/demo"}}]})
    assert settings.model_list[0].model == "mock/demo"


def test_base_url_alias():
    dep = load_config(config(entry(base_url="http://localhost:8000/v1"))).model_list[0]
    assert dep.api_base == "http://localhost:8000/v1"
    assert dep.params["api_base"] == "http://localhost:8000/v1" and "base_url" not in dep.params


@pytest.mark.parametrize("cfg, path", [
    ({"model_list": [{"model_name": "x", "params": {"model": "mock/demo"},
                      "litellm_params": {"model": "mock/demo"}}]}, "model_list[0].params"),
    (config(entry(base_url="http://a", api_base="http://b")),
     "model_list[0].litellm_params.base_url"),
])
def test_alias_and_name_together_is_an_error(cfg, path):
    assert error_of(cfg).startswith(f"{path}: give either ")


def test_empty_sections_are_allowed():
    cfg = config(litellm_settings=None, general_settings=None, router_settings=None,
                 environment_variables=None)
    assert load_config(cfg).general_settings == {}


def test_dict_source_is_not_mutated(monkeypatch):
    monkeypatch.setenv("SB_KEY", "sk-x")
    cfg = config(entry(api_key="os.environ/SB_KEY", base_url="http://a"))
    before = copy.deepcopy(cfg)
    load_config(cfg)
    assert cfg == before


def test_env_strings_are_typed(monkeypatch):
    monkeypatch.setenv("SB_RPM", "100")
    monkeypatch.setenv("SB_DROP", "true")
    cfg = config(entry(rpm="os.environ/SB_RPM"),
                 litellm_settings={"drop_params": "os.environ/SB_DROP"})
    settings = load_config(cfg)
    assert settings.model_list[0].rpm == 100 and settings.drop_params is True


def test_router_num_retries_is_the_fallback():
    assert load_config(config(router_settings={"num_retries": 4})).num_retries == 4


@pytest.mark.parametrize("value, expected", [
    ("stdout", "stdout"), ("OFF", None), (None, None), (False, None),
    ("/var/log/switchboard/access.log", "/var/log/switchboard/access.log")])
def test_access_log(value, expected):
    assert load_config(config(general_settings={"access_log": value})).access_log == expected


# --- deployment ids --------------------------------------------------------------------------

def test_generated_ids_are_stable_and_unique():
    cfg = config(entry(), entry())
    first = [d.id for d in load_config(cfg).model_list]
    assert first == [d.id for d in load_config(cfg).model_list]
    assert len(set(first)) == 2


def test_generated_id_ignores_secrets():
    one = load_config(config(entry(api_key="sk-one"))).model_list[0].id
    two = load_config(config(entry(api_key="sk-two"))).model_list[0].id
    assert one == two


def test_duplicate_model_info_id():
    first, second = entry(), entry()
    first["model_info"] = second["model_info"] = {"id": "same"}
    assert error_of(config(first, second)).startswith("model_list[1].model_info.id: duplicate")


# --- every error names its key path ----------------------------------------------------------

@pytest.mark.parametrize("cfg, message", [
    ({"model_list": "gpt-4o"}, "model_list: Not a valid list."),
    ({"model_list": ["gpt-4o"]}, "model_list[0]: Invalid input type."),
    ({"model_list": [{"model_name": 5, "litellm_params": {"model": "mock/demo"}}]},
     "model_list[0].model_name: Not a valid string."),
    ({"model_list": [{"litellm_params": {"model": "mock/demo"}}]},
     "model_list[0].model_name: Missing data for required field."),
    ({"model_list": [{"model_name": "x"}]},
     "model_list[0].litellm_params: Missing data for required field."),
    ({"model_list": [{"model_name": "x", "litellm_params": "mock/demo"}]},
     "model_list[0].litellm_params: Invalid input type."),
    (config(entry(), {"model_name": "x", "litellm_params": {"api_key": "k"}}),
     "model_list[1].litellm_params.model: Missing data for required field."),
    (config(entry(rpm="lots")), "model_list[0].litellm_params.rpm: Not a valid integer."),
    (config(entry(tpm=1.5)), "model_list[0].litellm_params.tpm: Not a valid integer."),
    (config(entry(timeout="soon")), "model_list[0].litellm_params.timeout: Not a valid number."),
    (config(entry(weight=-1)),
     "model_list[0].litellm_params.weight: Must be greater than or equal to 0."),
    (config(entry(max_retries=True)),
     "model_list[0].litellm_params.max_retries: Not a valid integer."),
    (config(entry(api_key=12345)), "model_list[0].litellm_params.api_key: Not a valid string."),
    (config(entry(extra_headers=["X-A: b"])),
     "model_list[0].litellm_params.extra_headers: Not a valid mapping type."),
    (config(entry(configurable_clientside_auth_params=["api_base", 3])),
     "model_list[0].litellm_params.configurable_clientside_auth_params[1]: Must be a parameter "
     'name or {"api_base": "<regex>"}.'),
    (config(entry(configurable_clientside_auth_params=[{"api_base": "("}])),
     "model_list[0].litellm_params.configurable_clientside_auth_params[0]: api_base pattern "
     "is not a valid regex: missing ), unterminated subpattern at position 0"),
    (config(litellm_settings={"num_retries": "many"}),
     "litellm_settings.num_retries: Not a valid integer."),
    (config(litellm_settings={"drop_params": "maybe"}),
     "litellm_settings.drop_params: Not a valid boolean."),
    (config(litellm_settings={"request_timeout": 0}),
     "litellm_settings.request_timeout: Must be greater than 0."),
    (config(general_settings=["master_key"]), "general_settings: Invalid input type."),
    (config(general_settings={"allow_private_api_base": "sometimes"}),
     "general_settings.allow_private_api_base: Not a valid boolean."),
    (config(general_settings={"max_request_size_mb": "big"}),
     "general_settings.max_request_size_mb: Not a valid number."),
    (config(general_settings={"access_log": 1}),
     "general_settings.access_log: Must be 'stdout', 'off' or a file path."),
    (config(router_settings={"num_retries": -1}),
     "router_settings.num_retries: Must be greater than or equal to 0."),
    (config(environment_variables=["A=b"]), "environment_variables: Not a valid mapping."),
    (config(environment_variables={"A": {"b": 1}}),
     "environment_variables.A: must be a string, number or boolean"),
])
def test_errors_name_the_key_path(cfg, message):
    assert error_of(cfg) == message


def test_header_value_error_names_the_header():
    msg = error_of(config(entry(extra_headers={"X-Team": 7})))
    assert msg == "model_list[0].litellm_params.extra_headers.X-Team: Not a valid string."


def test_several_errors_are_all_reported():
    msg = error_of(config(entry(rpm="x"), entry(weight="y")))
    assert msg.startswith("model_list[0].litellm_params.rpm: ")
    assert "model_list[1].litellm_params.weight: Not a valid number." in msg


@pytest.mark.parametrize("cfg", [{"model_list": []}, {"model_list": None}, {}])
def test_models_are_required(cfg):
    assert error_of(cfg) == "model_list: at least one model is required"


def test_unknown_provider():
    msg = error_of(config(entry(), entry("nosuch/x", name="x")))
    assert msg.startswith("model_list[1].litellm_params.model: ")
    assert "nosuch" in msg


def test_missing_env_var_names_variable_not_secret(monkeypatch):
    monkeypatch.setenv("SB_PRESENT_KEY", OPENAI_KEY)
    monkeypatch.delenv("SB_MISSING_KEY", raising=False)
    cfg = config(entry(api_key="os.environ/SB_PRESENT_KEY"),
                 entry(api_key="os.environ/SB_MISSING_KEY"))
    msg = error_of(cfg)
    assert msg == ("model_list[1].litellm_params.api_key: "
                   "environment variable SB_MISSING_KEY is not set")


def test_missing_env_var_in_settings(monkeypatch):
    monkeypatch.delenv("SB_NO_MASTER", raising=False)
    msg = error_of(config(general_settings={"master_key": "os.environ/SB_NO_MASTER"}))
    assert msg == "general_settings.master_key: environment variable SB_NO_MASTER is not set"


def test_type_error_on_a_secret_does_not_echo_it(monkeypatch):
    monkeypatch.setenv("SB_RPM", OPENAI_KEY)
    msg = error_of(config(entry(rpm="os.environ/SB_RPM", api_key=OPENAI_KEY, weight=-1)))
    assert msg.startswith("model_list[0].litellm_params.rpm: ")
    assert OPENAI_KEY not in msg


# --- file errors -----------------------------------------------------------------------------

def test_bad_yaml_names_file_and_line():
    path = FIXTURES / "bad_yaml.yaml"
    msg = error_of(path)
    assert msg.startswith(f"{path}: line 5, column ")
    assert "invalid YAML" in msg
    assert "sk-yaml-secret" not in msg  # the offending line is not quoted


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    assert error_of(str(path)).startswith(f"{path}: cannot read config file")


def test_top_level_must_be_a_mapping():
    path = FIXTURES / "list_top.yaml"
    assert error_of(path).startswith(f"{path}: top level must be a mapping")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing yet\n")
    assert error_of(path) == (f"{path}: top level must be a mapping of sections "
                              "(model_list, litellm_settings, ...), got an empty file")


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"model_list: \xff\n")
    assert error_of(path).startswith(f"{path}: ")


def test_bad_source_type():
    with pytest.raises(TypeError):
        load_config(42)


# --- unknown keys ----------------------------------------------------------------------------

def test_unknown_keys_warn_once_per_path(config_log):
    first = {**entry(), "modle_info": {}}
    second = {**entry(), "modle_info": {}}
    cfg = config(first, second, litellm_settings={"drop_param": True},
                 general_settings={"master_kee": "sk-x"}, router_settings={"redis_hots": "h"},
                 mystery_section={}, guardrails=[])

    settings = load_config(cfg)

    warned = sorted(r.getMessage().split(":")[0] for r in config_log.records)
    assert warned == ["general_settings.master_kee", "litellm_settings.drop_param",
                      "model_list[0].modle_info", "model_list[1].modle_info",
                      "mystery_section", "router_settings.redis_hots"]
    assert all(r.levelno == logging.WARNING for r in config_log.records)
    assert settings.litellm_settings["drop_param"] is True  # kept, not dropped
    assert not any("sk-x" in r.getMessage() for r in config_log.records)


def test_extra_litellm_params_do_not_warn(config_log):
    dep = load_config(config(entry(vertex_project="p", aws_region_name="eu-west-1"))).model_list[0]
    assert dep.params["vertex_project"] == "p"
    assert config_log.records == []


# --- secrets ---------------------------------------------------------------------------------

def test_secrets_not_in_repr(env):
    settings = load_config(FIXTURES / "litellm.yaml")
    text = repr(settings) + str(settings) + "".join(map(repr, settings.model_list))
    for secret in SECRETS:
        assert secret not in text
    assert "pw@localhost" not in text  # database_url lives in general_settings
    assert isinstance(settings.model_list[0], Deployment)
