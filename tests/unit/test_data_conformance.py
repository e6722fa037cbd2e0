"""The in-memory data request store and archive store, and the local folder of archives,
pass the conformance suites."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.files.archives import LocalArchiveStore
from adapters.memory.data import InMemoryArchiveStore, InMemoryDataRequestStore
from contracts.ports.data_requests import ArchiveStoreContract, DataRequestStoreContract


class TestInMemoryDataRequestStore(DataRequestStoreContract):
    @pytest.fixture
    def data_requests(self) -> InMemoryDataRequestStore:
        return InMemoryDataRequestStore()


class TestInMemoryArchiveStore(ArchiveStoreContract):
    @pytest.fixture
    def archives(self) -> InMemoryArchiveStore:
        return InMemoryArchiveStore()


class TestLocalArchiveStore(ArchiveStoreContract):
    @pytest.fixture
    def archives(self, tmp_path: Path) -> LocalArchiveStore:
        return LocalArchiveStore(tmp_path / "exports")


async def test_a_local_archive_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    store = LocalArchiveStore(tmp_path / "exports")
    await store.write("x.zip", {"a.json": b"[]"})

    assert (tmp_path / "exports" / "x.zip").stat().st_mode & 0o777 == 0o600
    assert list((tmp_path / "exports").iterdir()) == [tmp_path / "exports" / "x.zip"]
