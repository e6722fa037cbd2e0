import pytest

from entrypoints.http.context import HostPolicy


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        (b"app.example.com", True),
        (b"APP.example.com:8443", True),
        (b"eu.api.example.com", True),
        (b"api.example.com", True),
        (b"example.com", False),
        (b"evil.com", False),
        (b"app.example.com.evil.com", False),
        (b"[::1]:8000", True),
        (None, False),
        (b"", False),
    ],
)
def test_hosts_match_exactly_or_by_subdomain_wildcard_ignoring_the_port(
    host: bytes | None, allowed: bool
) -> None:
    policy = HostPolicy(["app.example.com", "*.api.example.com", "api.example.com", "[::1]"])

    assert policy.allows(host) is allowed


def test_a_star_allows_every_host() -> None:
    assert HostPolicy(["*"]).allows(b"anything.at.all")
