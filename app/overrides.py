"""Per-request overrides a client sends in the JSON body, and the policy that guards them.

Clients of the LiteLLM proxy put ``api_key``, ``api_base``, ``api_version`` ... next to
``model`` (the OpenAI SDK's ``extra_body``). ``extract`` pops them out of the body, so they are
never forwarded upstream, and returns them as one frozen ``Overrides``. ``check_policy`` refuses
what the configuration does not allow, and any client-supplied base URL that could reach the
gateway's own network (SSRF), however the address is spelled.
"""
import ipaddress
import math
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from urllib.parse import urlsplit

from app.errors import InvalidRequestError

OVERRIDE_KEYS = ("api_key", "api_base", "base_url", "api_version", "organization", "timeout",
                 "extra_headers", "num_retries", "mock_response", "drop_params", "fallbacks")
_KEYS = frozenset(OVERRIDE_KEYS)

MAX_TIMEOUT = 3600
MAX_NUM_RETRIES = 10


@dataclass(frozen=True, repr=False)
class Overrides:
    """Validated per-request overrides; ``None`` means "use the deployment's own value"."""

    api_key: str | None = None
    api_base: str | None = None
    api_version: str | None = None
    organization: str | None = None
    timeout: float | None = None
    # A read-only mapping; left out of the hash so an Overrides stays hashable.
    extra_headers: Mapping[str, str] | None = field(default=None, hash=False)
    num_retries: int | None = None
    mock_response: str | None = None
    drop_params: bool | None = None
    fallbacks: tuple | None = None  # the client's own fallback model groups, in order
    # The body key that carried api_base ("api_base" or its alias "base_url"); refusals name it.
    api_base_param: str = field(default="api_base", compare=False)

    def __repr__(self):
        # Secrets stay out of logs and tracebacks: the key is redacted, headers show names only.
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or f.name == "api_base_param":
                continue
            if f.name == "api_key":
                value = "<redacted>"
            elif f.name == "extra_headers":
                value = sorted(value)
            shown.append(f"{f.name}={value!r}")
        return f"Overrides({', '.join(shown)})"


EMPTY = Overrides()


# ---------------------------------------------------------------------------------------------
# extract: pop and type-check

_PRINTABLE = re.compile(r"[\x20-\x7e]*")
_API_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Visible ASCII, inner spaces and tabs; no leading whitespace (requests refuses it too).
_HEADER_VALUE = re.compile(r"(?:[\x21-\x7e][\x20-\x7e\t]*)?")
# Hop-by-hop and framing headers belong to the gateway's own connection, never the client.
FORBIDDEN_HEADERS = frozenset({
    "host", "content-length", "transfer-encoding", "connection", "keep-alive",
    "proxy-connection", "te", "trailer", "upgrade", "proxy-authorization", "proxy-authenticate",
})


def extract(body):
    """Pop every OVERRIDE_KEYS key out of body (mutates it) and return them validated."""
    if _KEYS.isdisjoint(body):  # the common case: one pass, nothing allocated
        return EMPTY
    # Pop everything before validating, so nothing is left behind for upstream on an error.
    raw = {key: body.pop(key) for key in OVERRIDE_KEYS if key in body}
    values = {}
    for key, value in raw.items():
        if value is not None:
            value = _VALIDATORS[key](value, key)
        if value is not None:
            values[key] = value
    _merge_base_url(values)
    return Overrides(**values) if values else EMPTY


def _merge_base_url(values):
    # base_url is the OpenAI SDK's name for LiteLLM's api_base.
    base_url = values.pop("base_url", None)
    if base_url is None:
        return
    if "api_base" not in values:
        values["api_base"], values["api_base_param"] = base_url, "base_url"
    elif values["api_base"] != base_url:
        raise InvalidRequestError(
            "base_url is an alias of api_base; send one of them, not two different values",
            param="base_url")


def _string(value, key):
    # "" means "not set", as LiteLLM's `api_key or default` does.
    if not isinstance(value, str):
        raise InvalidRequestError(f"{key} must be a string", param=key)
    return value or None


def _header_safe(value, key):
    # api_key, organization and api_base end up in request lines and headers upstream, where a
    # line break would inject a header and non-ASCII would fail to encode.
    value = _string(value, key)
    if value is not None and not _PRINTABLE.fullmatch(value):
        raise InvalidRequestError(f"{key} must be printable ASCII", param=key)
    return value


def _api_version(value, key):
    value = _string(value, key)
    if value is not None and not _API_VERSION.fullmatch(value):
        raise InvalidRequestError(
            "api_version must be letters, digits, '.', '_' or '-' (e.g. 2024-10-21)", param=key)
    return value


def _timeout(value, key):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRequestError("timeout must be a number of seconds", param=key)
    if not (math.isfinite(value) and 0 < value <= MAX_TIMEOUT):
        raise InvalidRequestError(
            f"timeout must be more than 0 and at most {MAX_TIMEOUT} seconds", param=key)
    return float(value)


def _num_retries(value, key):
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequestError("num_retries must be an integer", param=key)
    if not 0 <= value <= MAX_NUM_RETRIES:
        raise InvalidRequestError(
            f"num_retries must be between 0 and {MAX_NUM_RETRIES}", param=key)
    return value


def _fallbacks(value, key):
    # LiteLLM accepts model names, or {"model": name, ...} items (their extra keys are ignored).
    if not isinstance(value, list):
        raise InvalidRequestError("fallbacks must be a list of model names", param=key)
    names = []
    for item in value:
        name = item.get("model") if isinstance(item, dict) else item
        if not isinstance(name, str) or not name:
            raise InvalidRequestError(
                'fallbacks items must be model names or {"model": "<name>"}', param=key)
        names.append(name)
    return tuple(names) or None


def _bool(value, key):
    if not isinstance(value, bool):
        raise InvalidRequestError(f"{key} must be true or false", param=key)
    return value


def _extra_headers(value, key):
    if not isinstance(value, Mapping):
        raise InvalidRequestError("extra_headers must be an object of header names to strings",
                                  param=key)
    seen, headers = set(), {}
    for name, text in value.items():
        _check_header(name, text, key)
        if name.lower() in seen:
            raise InvalidRequestError(f"extra_headers repeats the header {name!r}", param=key)
        seen.add(name.lower())
        headers[name] = text
    return MappingProxyType(headers) if headers else None


def _check_header(name, text, key):
    # Values may be secrets: messages name the header at most, never its value.
    if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
        raise InvalidRequestError("extra_headers has an invalid header name", param=key)
    if name.lower() in FORBIDDEN_HEADERS:
        raise InvalidRequestError(f"extra_headers may not set {name!r}", param=key)
    if not isinstance(text, str):
        raise InvalidRequestError(f"extra_headers value for {name!r} must be a string", param=key)
    if not _HEADER_VALUE.fullmatch(text):
        raise InvalidRequestError(
            f"extra_headers value for {name!r} must be printable ASCII without line breaks "
            "or leading whitespace", param=key)


_VALIDATORS = {
    "api_key": _header_safe, "api_base": _header_safe, "base_url": _header_safe,
    "api_version": _api_version, "organization": _header_safe, "timeout": _timeout,
    "extra_headers": _extra_headers, "num_retries": _num_retries, "mock_response": _string,
    "drop_params": _bool, "fallbacks": _fallbacks,
}


# ---------------------------------------------------------------------------------------------
# check_policy: what the configuration allows, and where a client-supplied base may point

_ENABLE_HINT = ("an admin can enable it with `general_settings.allow_client_side_credentials: "
                "true` or the deployment's `configurable_clientside_auth_params: [{name}]`")


def check_policy(ov, *, allow_client_side_credentials, clientside_params=(),
                 allow_private_api_base=False, resolver=None):
    """Refuse overrides the gateway's configuration does not allow."""
    if ov.api_base is None and ov.api_version is None:
        return
    names, patterns = _split_params(clientside_params)
    if ov.api_version is not None and not (allow_client_side_credentials
                                           or "api_version" in names):
        raise _not_allowed("api_version", "api_version")
    if ov.api_base is None:
        return
    if not (allow_client_side_credentials or names & {"api_base", "base_url"}
            or any(_pattern_allows(p, ov.api_base) for p in patterns)):
        raise _not_allowed(ov.api_base_param, "api_base")
    check_api_base(ov.api_base, param=ov.api_base_param,
                   allow_private=allow_private_api_base, resolver=resolver)


def _split_params(clientside_params):
    # LiteLLM allows plain names and {"api_base": "<regex>"} items in the same list.
    names, patterns = set(), []
    for item in clientside_params:
        if isinstance(item, str):
            names.add(item)
        elif isinstance(item, Mapping) and isinstance(item.get("api_base"), str):
            patterns.append(item["api_base"])
    return names, patterns


def _pattern_allows(pattern, api_base):
    # Stricter than LiteLLM's re.match: a prefix match would let
    # "https://api.openai.com.attacker.example" through "https://api.openai.com".
    return pattern == api_base or re.fullmatch(pattern, api_base) is not None


def _not_allowed(param, name):
    return InvalidRequestError(
        f"This gateway does not allow a client-side {param}; " + _ENABLE_HINT.format(name=name),
        param=param)


def check_api_base(url, *, param="api_base", allow_private=False, resolver=None):
    """Refuse a client-supplied base URL that is malformed or reaches a non-public address."""
    host, port, literal = _split_url(url, param)
    if allow_private:
        return
    if literal is not None:
        ips = [literal]
    else:
        ips = _resolve(host, port, param, resolver or socket.getaddrinfo)
    for ip in ips:
        if not is_public_address(ip):
            raise _bad_base(f"{host} is not a public address", param)


# Printable ASCII without space or backslash (parsers disagree about "\" and whitespace).
_URL_CHARS = re.compile(r"[\x21-\x5b\x5d-\x7e]+")


def _split_url(url, param):
    if not _URL_CHARS.fullmatch(url):
        raise _bad_base("must be an ASCII URL without spaces, control characters or "
                        "backslashes (use the xn-- form for international names)", param)
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        raise _bad_base("is not a valid URL (host or port)", param) from None
    if parts.scheme not in ("http", "https") or not url.lower().startswith(parts.scheme + "://"):
        raise _bad_base("must be an absolute http:// or https:// URL", param)
    if "@" in parts.netloc:
        raise _bad_base("must not contain credentials (user:pass@)", param)
    if "?" in url or "#" in url:
        raise _bad_base("must not contain a query string or fragment", param)
    if not host or port == 0:
        raise _bad_base("must name a host (and a non-zero port, if any)", param)
    port = port or (443 if parts.scheme == "https" else 80)
    return host, port, _literal_address(host, "[" in parts.netloc, param)


_HOST_NAME = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?")
# Every label a number (decimal, 0-octal or 0x-hex): the C library reads it as an IPv4 address.
_NUMERIC_HOST = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+))*\.?")
_LOOPBACK = ipaddress.IPv4Address("127.0.0.1")


def _literal_address(host, bracketed, param):
    # Literal addresses are parsed here, never resolved, so every spelling gets classified;
    # None means "a name: ask the resolver".
    if bracketed:
        try:
            return ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            raise _bad_base(f"{host} is not a valid IPv6 address", param) from None
    if len(host) > 253 or not _HOST_NAME.fullmatch(host):
        raise _bad_base("has an invalid host name", param)
    if _NUMERIC_HOST.fullmatch(host):
        return _ipv4_literal(host, param)
    if host.rstrip(".") == "localhost" or host.rstrip(".").endswith(".localhost"):
        return _LOOPBACK  # RFC 6761: always loopback, whatever DNS says
    return None


def _ipv4_literal(host, param):
    # inet_aton knows the short, decimal, hex and octal forms the HTTP client would accept; the
    # regex above already refused the trailing text glibc's inet_aton silently ignores, and a
    # trailing dot is refused here whatever the platform's inet_aton thinks of it.
    packed = None
    if not host.endswith("."):
        try:
            packed = socket.inet_aton(host)
        except OSError:
            pass
    if packed is None:
        raise _bad_base(f"{host} is not a valid IPv4 address", param)
    return ipaddress.IPv4Address(packed)


def _resolve(host, port, param, resolver):
    try:
        infos = resolver(host, port)
        ips = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    except (OSError, UnicodeError, ValueError):
        ips = []
    if not ips:
        raise _bad_base(f"{host} could not be resolved", param)
    return ips


_V4_BLOCKED = tuple(ipaddress.IPv4Network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
    "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
))
_V6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
# Inside 2000::/3 but not reachable on the internet: IETF protocol (incl. Teredo), documentation.
_V6_BLOCKED = tuple(ipaddress.IPv6Network(n) for n in ("2001::/23", "2001:db8::/32", "3fff::/20"))
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def is_public_address(ip):
    """True when ip is a global unicast address (IPv4 embedded in IPv6 judged by the IPv4)."""
    if ip.version == 6:
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return is_public_address(embedded)
        if ip not in _V6_GLOBAL_UNICAST or any(ip in net for net in _V6_BLOCKED):
            return False
    elif any(ip in net for net in _V4_BLOCKED):
        return False
    # The standard library's view as a second opinion; it only ever makes this stricter.
    return ip.is_global and not ip.is_multicast


def _embedded_ipv4(ip):
    # IPv4-mapped (::ffff:a.b.c.d), 6to4 (2002:aabb:ccdd::) and NAT64 (64:ff9b::a.b.c.d) all
    # deliver to the IPv4 address inside.
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None


def _bad_base(reason, param):
    return InvalidRequestError(f"{param} {reason}", param=param, code="invalid_api_base")
