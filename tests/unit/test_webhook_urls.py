"""Endpoint URLs are https and public: customers' webhooks cannot reach our network."""

from __future__ import annotations

import ipaddress

import pytest

from core.workflows.webhook_errors import InvalidWebhookUrlError
from core.workflows.webhook_urls import check_endpoint_url, is_public_address


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/ninefold",
        "https://hooks.example.com:8443/in?token=abc",
        "https://93.184.215.14/hooks",
        "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/hooks",
    ],
)
def test_a_public_https_url_is_accepted(url: str) -> None:
    assert check_endpoint_url(f"  {url} ", allow_private=False) == url


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://hooks.example.com/", "https"),
        ("ftp://hooks.example.com/", "https"),
        ("hooks.example.com/in", "https"),
        ("https:///path-only", "no host"),
        ("https://user:secret@hooks.example.com/", "credentials"),
        ("https://hooks.example.com/#frag", "fragment"),
        ("https://localhost/hooks", "public"),
        ("https://api.localhost/hooks", "public"),
        ("https://printer.local/hooks", "public"),
        ("https://metadata.google.internal/computeMetadata", "public"),
        ("https://intranet/hooks", "public"),
        ("https://127.0.0.1/hooks", "public"),
        ("https://127.1/hooks", "public"),
        ("https://2130706433/hooks", "public"),
        ("https://10.1.2.3/hooks", "public"),
        ("https://172.16.0.1/hooks", "public"),
        ("https://192.168.0.10/hooks", "public"),
        ("https://100.64.0.1/hooks", "public"),
        ("https://169.254.169.254/latest/meta-data", "public"),
        ("https://0.0.0.0/hooks", "public"),
        ("https://[::1]/hooks", "public"),
        ("https://[fe80::1]/hooks", "public"),
        ("https://[fd00::1]/hooks", "public"),
        ("https://[::ffff:10.0.0.1]/hooks", "public"),
        ("https://[2002:a00:1::]/hooks", "public"),  # 6to4 of 10.0.0.1
        ("https://hooks.example.com:99999/", "URL"),
        ("https://" + "a" * 2000 + ".com/", "characters"),
    ],
)
def test_a_url_that_is_not_public_https_is_refused(url: str, why: str) -> None:
    with pytest.raises(InvalidWebhookUrlError, match=why) as raised:
        check_endpoint_url(url, allow_private=False)

    assert raised.value.type == "workflows/invalid-webhook-url"
    assert raised.value.extra["field"] == "url"


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/hooks", "http://localhost:3000/in", "https://10.0.0.2/"]
)
def test_private_and_plain_http_urls_are_allowed_when_the_setting_says_so(url: str) -> None:
    assert check_endpoint_url(url, allow_private=True) == url


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("169.254.169.254", False),
        ("224.0.0.1", False),
        ("255.255.255.255", False),
        ("::", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:8.8.8.8", True),
        ("fe80::1", False),
    ],
)
def test_which_addresses_are_public(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public
