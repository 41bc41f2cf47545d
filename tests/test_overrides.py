import socket
from types import MappingProxyType

import pytest

from app.errors import InvalidRequestError
from app.overrides import EMPTY, OVERRIDE_KEYS, Overrides, check_policy, extract

SECRET = "sk-very-secret-0123456789"


def _fake_resolver(table):
    """A getaddrinfo stand-in: name -> list of addresses; unknown names fail like DNS does."""
    calls = []

    def resolve(host, port):
        calls.append((host, port))
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (ip, port)) for ip in table[host]]

    resolve.calls = calls
    return resolve


def _no_dns(host, port):
    raise AssertionError(f"resolver called for {host!r}; literal addresses must be parsed")


def _allowed(ov, **kwargs):
    kwargs.setdefault("resolver", _no_dns)
    check_policy(ov, allow_client_side_credentials=True, **kwargs)


def _refused(ov, **kwargs):
    with pytest.raises(InvalidRequestError) as info:
        _allowed(ov, **kwargs)
    return info.value


# --- extract --------------------------------------------------------------------------------

def test_extract_pops_override_keys_and_leaves_the_rest():
    body = {"model": "gpt-4o", "messages": [], "temperature": 0.2, "api_key": SECRET,
            "api_base": "https://example.com/v1", "api_version": "2024-10-21",
            "organization": "org-1", "timeout": 30, "extra_headers": {"X-Trace": "abc"},
            "num_retries": 2, "mock_response": "hi", "drop_params": True}
    ov = extract(body)
    assert body == {"model": "gpt-4o", "messages": [], "temperature": 0.2}
    assert ov == Overrides(api_key=SECRET, api_base="https://example.com/v1",
                           api_version="2024-10-21", organization="org-1", timeout=30.0,
                           extra_headers=MappingProxyType({"X-Trace": "abc"}), num_retries=2,
                           mock_response="hi", drop_params=True)
    assert isinstance(ov.timeout, float)


def test_fast_path_returns_empty_and_leaves_body_untouched():
    messages = [{"role": "user", "content": "hi"}]
    body = {"model": "gpt-4o", "messages": messages, "stream": True}
    before = dict(body)
    assert extract(body) is EMPTY
    assert body == before and body["messages"] is messages


def test_none_and_empty_values_are_absent_but_still_popped():
    body = {"model": "m", "api_key": None, "api_base": "", "extra_headers": {}, "timeout": None}
    assert extract(body) is EMPTY
    assert body == {"model": "m"}


def test_every_key_is_popped_even_when_validation_fails():
    body = {"model": "m", "api_key": SECRET, "timeout": "soon"}
    with pytest.raises(InvalidRequestError):
        extract(body)
    assert body == {"model": "m"}


@pytest.mark.parametrize("key, value", [
    ("api_key", 123), ("api_key", ["k"]), ("api_base", 1), ("base_url", {"u": 1}),
    ("api_version", 2024), ("api_version", "2024-10-21&x=1"), ("organization", True),
    ("timeout", "30"), ("timeout", True), ("timeout", 0), ("timeout", -1), ("timeout", 3601),
    ("timeout", float("inf")), ("timeout", float("nan")),
    ("extra_headers", "X-A: 1"), ("extra_headers", [["X-A", "1"]]),
    ("num_retries", 1.5), ("num_retries", True), ("num_retries", -1), ("num_retries", 11),
    ("mock_response", {"content": "x"}), ("drop_params", "true"), ("drop_params", 1),
    ("api_key", "sk-1\r\nX-Evil: 1"), ("organization", "org\n"),
    ("api_key", "sk-\u043a\u043b\u044e\u0447"), ("base_url", "http://8.8.8.8/\x00"),
])
def test_type_and_range_errors_name_their_param(key, value):
    with pytest.raises(InvalidRequestError) as info:
        extract({"model": "m", key: value})
    assert info.value.param == key
    assert info.value.status == 400


def test_limits_are_inclusive():
    ov = extract({"timeout": 3600, "num_retries": 10})
    assert (ov.timeout, ov.num_retries) == (3600.0, 10)
    assert extract({"num_retries": 0}).num_retries == 0
    assert extract({"drop_params": False}).drop_params is False


def test_base_url_is_an_alias_of_api_base():
    ov = extract({"base_url": "https://example.com/v1"})
    assert ov.api_base == "https://example.com/v1" and ov.api_base_param == "base_url"
    same = extract({"api_base": "https://example.com/v1", "base_url": "https://example.com/v1"})
    assert same.api_base == "https://example.com/v1" and same.api_base_param == "api_base"
    assert ov == same


def test_base_url_differing_from_api_base_is_refused():
    body = {"api_base": "https://a.example.com", "base_url": "https://b.example.com"}
    with pytest.raises(InvalidRequestError) as info:
        extract(body)
    assert info.value.param == "base_url"


def test_extra_headers_are_frozen():
    source = {"X-Trace": "abc", "OpenAI-Beta": "assistants=v2"}
    ov = extract({"extra_headers": source})
    source["X-Trace"] = "changed"
    assert dict(ov.extra_headers) == {"X-Trace": "abc", "OpenAI-Beta": "assistants=v2"}
    with pytest.raises(TypeError):
        ov.extra_headers["X-New"] = "1"
    with pytest.raises(AttributeError):
        ov.api_key = "other"
    hash(ov)


@pytest.mark.parametrize("headers", [
    {"Host": "internal"}, {"host": "x"}, {"Content-Length": "0"},
    {"Transfer-Encoding": "chunked"}, {"Connection": "close"}, {"CONNECTION": "keep-alive"},
    {"Keep-Alive": "1"}, {"Upgrade": "h2c"}, {"TE": "trailers"},
    {"X-A": "1\r\nX-Evil: 1"}, {"X-A": "1\nX-Evil: 1"}, {"X-A": "a\rb"}, {"X-A": "\x00"},
    {"X-A\r\nX-Evil": "1"}, {"X-A\n": "1"}, {"Bad Name": "1"}, {"": "1"}, {"X:A": "1"},
    {"X-A": 1}, {"X-A": None}, {"X-A": ["1"]}, {"X-A": " secretvalue"}, {"X-A": "é"},
    {"X-A": "1", "x-a": "2"},
])
def test_extra_headers_refusals(headers):
    with pytest.raises(InvalidRequestError) as info:
        extract({"extra_headers": headers})
    assert info.value.param == "extra_headers"
    for value in headers.values():
        if isinstance(value, str) and len(value) > 2:
            assert value not in info.value.message


def test_extra_header_values_are_never_echoed():
    with pytest.raises(InvalidRequestError) as info:
        extract({"extra_headers": {"Authorization": "Bearer " + SECRET + "\n"}})
    assert SECRET not in info.value.message


def test_repr_hides_secrets():
    ov = extract({"api_key": SECRET, "extra_headers": {"X-Api-Key": SECRET}, "timeout": 5})
    for text in (repr(ov), str(ov)):
        assert SECRET not in text
        assert "api_key=" in text and "X-Api-Key" in text and "timeout=5.0" in text
    assert repr(EMPTY) == "Overrides()"


def test_override_keys_cover_the_documented_names():
    assert set(OVERRIDE_KEYS) == {"api_key", "api_base", "base_url", "api_version",
                                  "organization", "timeout", "extra_headers", "num_retries",
                                  "mock_response", "drop_params", "fallbacks"}


# --- check_policy: what the configuration allows ---------------------------------------------

def test_policy_by_default_allows_key_and_harmless_overrides():
    ov = extract({"api_key": SECRET, "organization": "org", "timeout": 5, "num_retries": 1,
                  "mock_response": "x", "drop_params": True, "extra_headers": {"X-A": "1"}})
    check_policy(ov, allow_client_side_credentials=False, resolver=_no_dns)
    check_policy(EMPTY, allow_client_side_credentials=False, resolver=_no_dns)


@pytest.mark.parametrize("body, param", [
    ({"api_base": "https://api.example.com"}, "api_base"),
    ({"base_url": "https://api.example.com"}, "base_url"),
    ({"api_version": "2024-10-21"}, "api_version"),
    ({"api_key": SECRET, "api_base": "https://api.example.com"}, "api_base"),
])
def test_policy_refuses_base_and_version_by_default(body, param):
    with pytest.raises(InvalidRequestError) as info:
        check_policy(extract(body), allow_client_side_credentials=False, resolver=_no_dns)
    err = info.value
    assert err.param == param and err.status == 400
    assert "allow_client_side_credentials" in err.message
    assert "configurable_clientside_auth_params" in err.message
    assert SECRET not in err.message


def test_policy_allows_base_and_version_with_the_flag():
    ov = extract({"api_base": "https://8.8.8.8/v1", "api_version": "2024-10-21"})
    check_policy(ov, allow_client_side_credentials=True, resolver=_no_dns)


@pytest.mark.parametrize("params, body", [
    (["api_base"], {"api_base": "https://8.8.8.8"}),
    (["api_base"], {"base_url": "https://8.8.8.8"}),
    (["base_url"], {"api_base": "https://8.8.8.8"}),
    (("api_version",), {"api_version": "2024-10-21"}),
    (["api_base", "api_version"], {"api_base": "https://8.8.8.8", "api_version": "v1"}),
    ([{"api_base": r"https://8\.8\.8\.8(/.*)?"}], {"api_base": "https://8.8.8.8/v1"}),
    ([{"api_base": "https://8.8.8.8"}], {"api_base": "https://8.8.8.8"}),
])
def test_policy_allows_via_clientside_params(params, body):
    check_policy(extract(body), allow_client_side_credentials=False, clientside_params=params,
                 resolver=_no_dns)


@pytest.mark.parametrize("params, body, param", [
    (["api_version"], {"api_base": "https://8.8.8.8"}, "api_base"),
    (["api_base"], {"api_version": "v1"}, "api_version"),
    (["api_base"], {"api_base": "https://8.8.8.8", "api_version": "v1"}, "api_version"),
    # A regex allows what it matches in full, not everything that starts like it.
    ([{"api_base": "https://8.8.8.8"}], {"api_base": "https://8.8.8.8.nip.example"}, "api_base"),
])
def test_policy_refuses_what_clientside_params_do_not_list(params, body, param):
    with pytest.raises(InvalidRequestError) as info:
        check_policy(extract(body), allow_client_side_credentials=False,
                     clientside_params=params, resolver=_no_dns)
    assert info.value.param == param


# --- check_policy: where a client-supplied base may point ------------------------------------

SSRF_BASES = [
    # loopback, every spelling
    "http://127.0.0.1", "http://127.0.0.1:8080/v1", "http://127.1", "http://127.0.1",
    "http://2130706433", "http://0x7f000001", "http://0x7F000001", "http://0x7f.0.0.1",
    "http://0x7f.1", "http://0177.0.0.1", "http://0177.1", "http://017700000001",
    "http://127.255.255.254", "http://[::1]", "http://[::1]:8000/v1",
    "http://[0:0:0:0:0:0:0:1]", "http://[::ffff:127.0.0.1]", "http://[::ffff:7f00:1]",
    "http://[::127.0.0.1]", "http://localhost", "http://localhost.", "http://LOCALHOST:4000",
    "http://api.localhost", "HTTP://127.0.0.1",
    # unspecified
    "http://0.0.0.0", "http://0", "http://0x0", "http://[::]", "http://[::ffff:0.0.0.0]",
    # private, CGNAT, ULA
    "http://10.0.0.1", "http://10.1", "http://167772161", "http://012.0.0.1",
    "http://172.16.0.1", "http://172.31.255.255", "http://192.168.1.1", "http://192.168.257",
    "http://0xc0a80101", "http://100.64.0.1", "http://100.127.255.255", "http://[fc00::1]",
    "http://[fd12:3456:789a::1]", "http://[::ffff:10.0.0.1]", "http://[::ffff:a00:1]",
    # link-local and the cloud metadata service
    "http://169.254.169.254/latest/meta-data/", "http://169.254.169.254.", "http://2852039166",
    "http://0xa9fea9fe", "http://0251.0376.0251.0376", "http://169.254.43518",
    "http://[fe80::1]", "http://[fe80::1%25eth0]", "http://[::ffff:169.254.169.254]",
    "http://[fd00:ec2::254]",
    # multicast, broadcast, reserved, documentation, benchmarking
    "http://224.0.0.1", "http://239.255.255.250", "http://255.255.255.255", "http://240.0.0.1",
    "http://[ff02::1]", "http://[ff0e::1]", "http://192.0.2.1", "http://198.18.0.1",
    "http://203.0.113.7", "http://[2001:db8::1]", "http://[fec0::1]", "http://[100::1]",
    # IPv4 hidden in IPv6: 6to4, NAT64, Teredo, IPv4-compatible
    "http://[2002:7f00:1::1]", "http://[2002:a9fe:a9fe::]", "http://[64:ff9b::127.0.0.1]",
    "http://[64:ff9b::a00:1]", "http://[64:ff9b:1::a00:1]", "http://[2001:0:4136:e378::1]",
    # numeric-looking garbage that libraries might still read as an address
    "http://127.0.0.1.", "http://1.2.3.4.5", "http://08.0.0.1", "http://4294967296",
    "http://256.0.0.1",
]


@pytest.mark.parametrize("url", SSRF_BASES)
def test_non_public_bases_are_refused_without_dns(url):
    err = _refused(Overrides(api_base=url))
    assert err.param == "api_base" and err.code == "invalid_api_base" and err.status == 400


def test_refusal_names_the_field_the_client_used():
    err = _refused(extract({"base_url": "http://127.1"}))
    assert err.param == "base_url" and err.code == "invalid_api_base"


@pytest.mark.parametrize("url", [
    "https://8.8.8.8", "https://8.8.8.8:8443/v1", "http://1.1.1.1/openai/", "https://134744072",
    "https://0x8080808", "https://[2606:4700:4700::1111]/v1", "https://[::ffff:8.8.8.8]",
    "https://[2002:808:808::1]", "https://[64:ff9b::808:808]", "http://100.128.0.1",
    "http://172.32.0.1", "http://192.169.0.1",
])
def test_public_literal_addresses_are_accepted_without_dns(url):
    _allowed(Overrides(api_base=url))


def test_name_resolving_to_public_addresses_is_accepted():
    resolver = _fake_resolver({"api.example.com": ["93.184.216.34", "2606:2800:220:1::1"]})
    _allowed(Overrides(api_base="https://api.example.com/v1"), resolver=resolver)
    assert resolver.calls == [("api.example.com", 443)]
    _allowed(Overrides(api_base="http://api.example.com:8080"), resolver=resolver)
    assert resolver.calls[-1] == ("api.example.com", 8080)


@pytest.mark.parametrize("addresses", [
    ["127.0.0.1"], ["10.0.0.5"], ["169.254.169.254"], ["::1"], ["fd00::1"], ["fe80::1%eth0"],
    ["::ffff:192.168.0.1"], ["93.184.216.34", "10.0.0.5"], ["2606:2800:220:1::1", "::1"],
    ["93.184.216.34", "93.184.216.35", "100.64.1.1"], ["0.0.0.0"],
])
def test_name_resolving_to_any_private_address_is_refused(addresses):
    resolver = _fake_resolver({"rebind.example.com": addresses})
    err = _refused(Overrides(api_base="https://rebind.example.com"), resolver=resolver)
    assert err.code == "invalid_api_base" and "rebind.example.com" in err.message


@pytest.mark.parametrize("resolver", [
    _fake_resolver({}),
    lambda host, port: [],
    lambda host, port: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("not-an-ip", port))],
])
def test_unresolvable_name_is_refused(resolver):
    err = _refused(Overrides(api_base="https://nowhere.invalid"), resolver=resolver)
    assert err.code == "invalid_api_base" and err.param == "api_base"


@pytest.mark.parametrize("url", ["http://127.0.0.1:11434", "http://[::1]", "http://10.1",
                                 "http://169.254.169.254", "http://localhost:8000/v1"])
def test_allow_private_api_base_lifts_the_address_check(url):
    _allowed(Overrides(api_base=url), allow_private_api_base=True)


def test_allow_private_api_base_skips_dns():
    _allowed(Overrides(api_base="http://ollama.internal:11434"), allow_private_api_base=True)


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "gopher://127.0.0.1:6379/_INFO", "ftp://8.8.8.8/", "dict://8.8.8.8:11211",
    "ws://8.8.8.8", "javascript:alert(1)", "8.8.8.8", "//8.8.8.8/v1", "http:8.8.8.8",
    "http:/8.8.8.8", "http:///v1", "https://", "http://:80", "http://8.8.8.8:0",
    "http://8.8.8.8:99999", "http://8.8.8.8:port",
    "http://user:pass@8.8.8.8", "http://user@8.8.8.8", "http://8.8.8.8@127.0.0.1",
    "http://127.0.0.1#@8.8.8.8", "http://127.0.0.1\\@8.8.8.8", "http://8.8.8.8/?x=1",
    "http://8.8.8.8/#x", "http://8.8.8.8 /v1", "http://8.8.8.8\t/v1", "\nhttp://8.8.8.8",
    "http://ex\u0430mple.com", "http://１２７.０.０.１", "http://[1.2.3.4]", "http://[::1",
    "http://ex%61mple.com", "http://a..b", "http://1.2.3.4.5", "http://127.0.0.1.",
    "http://08.0.0.1",
])
def test_malformed_bases_are_refused_even_when_private_is_allowed(url):
    err = _refused(Overrides(api_base=url), allow_private_api_base=True)
    assert err.code == "invalid_api_base"


def test_base_refusals_do_not_echo_the_key():
    ov = extract({"api_key": SECRET, "api_base": "http://127.0.0.1"})
    err = _refused(ov)
    assert SECRET not in err.message and "127.0.0.1" in err.message
