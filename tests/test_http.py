"""Outbound sessions: no per-call proxy lookup, and the guard for client-chosen bases."""
import socket
import threading

import pytest
import requests
import responses

from app.http import _GuardedAdapter, build_session


def test_no_proxy_env_means_no_per_call_lookup(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert build_session().trust_env is False


def test_proxy_env_is_honoured(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert build_session().trust_env is True


def test_guarded_session_refuses_a_loopback_peer():
    # A real listener on loopback: the plain session reaches it, the guarded one must not.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    accepted = []

    def serve():
        for _ in range(2):
            conn, _ = server.accept()
            data = conn.recv(65536)
            accepted.append(data)
            if data:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                             b"Connection: close\r\n\r\nok")
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    guarded = build_session(4, _GuardedAdapter)
    with pytest.raises(requests.exceptions.ConnectionError, match="non-public"):
        guarded.post(f"http://127.0.0.1:{port}/v1/chat/completions", data=b"{}", timeout=5)
    plain = build_session(4)
    assert plain.post(f"http://127.0.0.1:{port}/x", data=b"{}", timeout=5).text == "ok"
    thread.join(5)
    server.close()
    guarded.close()
    plain.close()
    # The TCP handshake completes, but the guarded attempt sent not one byte.
    assert accepted[0] == b"" and accepted[1].startswith(b"POST /x")


@responses.activate
def test_post_keeps_no_cookies_and_sends_exact_headers():
    from app.http import post
    responses.post("https://api.example.test/v1/chat/completions", json={"ok": 1},
                   headers={"Set-Cookie": "__cf_bm=tenant-a; Path=/; Domain=api.example.test"})
    session = build_session(4)
    for _ in range(2):
        resp = post(session, "https://api.example.test/v1/chat/completions", b'{"a": 1}',
                    {"Authorization": "Bearer k", "Content-Type": "application/json"}, (5, 5))
        assert resp.json() == {"ok": 1}
    second = responses.calls[1].request
    assert "Cookie" not in second.headers and len(session.cookies) == 0
    assert second.headers["Content-Length"] == "8" and second.body == b'{"a": 1}'
    assert second.headers["Authorization"] == "Bearer k"
    session.close()


@responses.activate
def test_post_normalises_urls_once():
    from app.http import post
    responses.post("https://xn--bcher-kva.example/v1/x%20y", json={})
    session = build_session(4)
    post(session, "https://bücher.example/v1/x y", b"{}", {}, (5, 5))
    assert responses.calls[0].request.url == "https://xn--bcher-kva.example/v1/x%20y"
    session.close()
