"""The redirect rule alone: credentials go only to the connection's origin (the redirects over
real HTTP are in tests/integration/test_security.py)."""

from __future__ import annotations

import pytest

from airflow_provider_contacts.http.errors import redirect_refusal


@pytest.mark.parametrize(
    "base, target, reason",
    [
        ("https://api.example.com/v1", "https://api.example.com/v2/x", None),
        ("https://api.example.com", "https://API.example.com:443/x", None),
        ("http://127.0.0.1:8080/p", "http://127.0.0.1:8080/q", None),
        ("http://api.example.com", "https://api.example.com/x", None),  # upgrade on default ports
        ("https://api.example.com", "http://api.example.com/x", "plain http"),
        ("https://api.example.com:8443", "http://api.example.com:8443/x", "plain http"),
        ("https://api.example.com", "https://evil.example.net/x", "another host"),
        ("https://api.example.com", "https://api.example.com.evil.net/x", "another host"),
        ("https://api.example.com", "https://api.example.com@evil.net/x", "another host"),
        ("https://api.example.com", "https://api.example.com:8443/x", "another host"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8081/x", "another host"),
        ("https://api.example.com", "ftp://api.example.com/x", "not an http(s) URL"),
    ],
)
def test_redirect_rule(base, target, reason):
    refusal = redirect_refusal(base, target)
    if reason is None:
        assert refusal is None
    else:
        assert refusal is not None and reason in refusal
