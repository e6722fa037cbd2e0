"""The composition root picks each port's adapter from settings; tests override it."""

from __future__ import annotations

import msgspec
from dependency_injector import providers

from adapters.argon2.hasher import Argon2PasswordHasher
from adapters.memory.identity import FastInsecurePasswordHasher
from core.kernel import FixedClock
from entrypoints.containers import build_container
from entrypoints.settings import Settings


def test_settings_select_the_password_hasher() -> None:
    production_like = build_container(Settings(password_hasher="argon2"))
    fast_for_tests = build_container(Settings(password_hasher="fast-insecure"))

    assert isinstance(production_like.identity.password_hasher(), Argon2PasswordHasher)
    assert isinstance(fast_for_tests.identity.password_hasher(), FastInsecurePasswordHasher)


def test_a_provider_can_be_overridden_without_touching_the_code() -> None:
    container = build_container(Settings())
    clock = FixedClock()

    with container.kernel.clock.override(providers.Object(clock)):
        assert container.kernel.clock() is clock
    assert container.kernel.clock() is not clock


def test_each_container_is_independent_of_the_others() -> None:
    one, two = build_container(Settings()), build_container(Settings())

    assert one.workflows.event_bus() is one.workflows.event_bus()
    assert one.workflows.event_bus() is not two.workflows.event_bus()


def test_the_engine_follows_the_configured_database_url(tmp_path: object) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/chosen.db"
    container = build_container(msgspec.structs.replace(Settings(), database_url=url))

    assert str(container.database.engine().url) == url
