"""Conformance of the data requests' stores: ``DataRequestStore`` (the requests) and
``ArchiveStore`` (the built archives).

Provide a fixture ``data_requests``: the store, bound to one open unit of work (for SQL,
a session that is never committed: everything is read back in it); and a fixture
``archives``: an empty archive store.

Requests come back equal to what was stored, times in UTC. Ids grow with time: "newest
first" is "highest id first". An archive is a zip of the files it was given; reading
one never written, or deleted, answers ``None``; deleting one that is not there is fine.
"""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from core.kernel import IdGenerator
from core.safety.data import (
    ArchiveStore,
    DataRequest,
    DataRequestStore,
    RequestKind,
    RequestState,
    SubjectKind,
)

T0 = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
HOUR = timedelta(hours=1)
ids = IdGenerator()


def a_request(**changes: Any) -> DataRequest:
    at = changes.pop("at", T0)
    request = DataRequest(
        id=ids.new("dat", at),
        kind=RequestKind.EXPORT,
        subject_kind=SubjectKind.USER,
        subject_id="usr_contracts",
        requested_by="usr_contracts",
        state=RequestState.REQUESTED,
        created_at=at,
        updated_at=at,
    )
    return msgspec.structs.replace(request, **changes)


def a_deletion(**changes: Any) -> DataRequest:
    return a_request(
        kind=RequestKind.DELETION,
        **{"state": RequestState.SCHEDULED, "due_at": T0 + 30 * 24 * HOUR, **changes},
    )


class DataRequestStoreContract:
    async def test_a_request_comes_back_as_it_was_stored(
        self, data_requests: DataRequestStore
    ) -> None:
        stored = a_request(
            state=RequestState.READY,
            token="tok_contracts_1",
            expires_at=T0 + 24 * HOUR,
            size=1234,
            error=None,
        )
        await data_requests.add(stored)

        assert await data_requests.get(stored.id) == stored
        assert await data_requests.get(stored.id, for_update=True) == stored
        assert await data_requests.get("dat_nope") is None

    async def test_a_saved_request_is_read_back_changed(
        self, data_requests: DataRequestStore
    ) -> None:
        request = a_deletion()
        await data_requests.add(request)
        request.state, request.subject_id, request.error = RequestState.ERASED, "erased_x", "e"
        await data_requests.save(request)

        assert await data_requests.get(request.id) == request

    async def test_a_token_finds_its_request(self, data_requests: DataRequestStore) -> None:
        ready = a_request(state=RequestState.READY, token="tok_contracts_2")
        await data_requests.add(ready)
        await data_requests.add(a_request())

        found = await data_requests.by_token("tok_contracts_2")
        assert found is not None
        assert found.id == ready.id
        assert await data_requests.by_token("tok_unknown") is None

    async def test_a_subjects_requests_newest_first_of_a_kind(
        self, data_requests: DataRequestStore
    ) -> None:
        older = a_request()
        deletion = a_deletion(at=T0 + HOUR)
        newer = a_request(at=T0 + 2 * HOUR)
        other = a_request(subject_id="usr_other")
        workspace = a_request(subject_kind=SubjectKind.WORKSPACE, subject_id="usr_contracts")
        for request in (older, deletion, newer, other, workspace):
            await data_requests.add(request)

        mine = await data_requests.of_subject(SubjectKind.USER, "usr_contracts")
        exports = await data_requests.of_subject(
            SubjectKind.USER, "usr_contracts", RequestKind.EXPORT
        )

        assert [r.id for r in mine] == [newer.id, deletion.id, older.id]
        assert [r.id for r in exports] == [newer.id, older.id]

    async def test_due_deletions_are_scheduled_user_deletions_past_their_due_time(
        self, data_requests: DataRequestStore
    ) -> None:
        due = a_deletion(due_at=T0)
        later = a_deletion(due_at=T0 + 2 * HOUR)
        canceled = a_deletion(due_at=T0, state=RequestState.CANCELED)
        workspace = a_deletion(due_at=T0, subject_kind=SubjectKind.WORKSPACE)
        for request in (due, later, canceled, workspace, a_request()):
            await data_requests.add(request)

        assert list(await data_requests.due_deletions(T0 + HOUR, 10)) == [due.id]
        assert list(await data_requests.due_deletions(T0 + 3 * HOUR, 1)) == [due.id]
        assert list(await data_requests.due_deletions(T0 - HOUR, 10)) == []

    async def test_expired_exports_are_ready_ones_past_their_link(
        self, data_requests: DataRequestStore
    ) -> None:
        expired = a_request(state=RequestState.READY, token="tok_c3", expires_at=T0)
        live = a_request(state=RequestState.READY, token="tok_c4", expires_at=T0 + 2 * HOUR)
        done = a_request(state=RequestState.EXPIRED, expires_at=T0)
        for request in (expired, live, done):
            await data_requests.add(request)

        found = await data_requests.expired_exports(T0 + HOUR, 10)
        assert [r.id for r in found] == [expired.id]

    async def test_a_page_is_newest_first_filtered_and_goes_on_below_a_cursor(
        self, data_requests: DataRequestStore
    ) -> None:
        first, second, third = (a_request(at=T0 + n * HOUR) for n in range(3))
        deletion = a_deletion(at=T0 + 3 * HOUR)
        for request in (first, second, third, deletion):
            await data_requests.add(request)

        everything = await data_requests.page(kind=None, state=None, before=None, limit=10)
        exports = await data_requests.page(
            kind=RequestKind.EXPORT, state=RequestState.REQUESTED, before=third.id, limit=1
        )
        scheduled = await data_requests.page(
            kind=None, state=RequestState.SCHEDULED, before=None, limit=10
        )

        assert [r.id for r in everything] == [deletion.id, third.id, second.id, first.id]
        assert [r.id for r in exports] == [second.id]
        assert [r.id for r in scheduled] == [deletion.id]

    async def test_forgetting_a_subject_deletes_its_exports_only(
        self, data_requests: DataRequestStore
    ) -> None:
        export, deletion, other = a_request(), a_deletion(), a_request(subject_id="usr_other")
        for request in (export, deletion, other):
            await data_requests.add(request)

        await data_requests.forget_subject(SubjectKind.USER, "usr_contracts")

        assert await data_requests.get(export.id) is None
        assert await data_requests.get(deletion.id) == deletion
        assert await data_requests.get(other.id) == other


class ArchiveStoreContract:
    FILES = {"manifest.json": b'{"format": 1}', "identity/account.json": b"[]"}
    NAME = "a" * 64 + ".zip"

    async def test_an_archive_is_a_zip_of_its_files(self, archives: ArchiveStore) -> None:
        size = await archives.write(self.NAME, self.FILES)
        data = await archives.read(self.NAME)

        assert data is not None
        assert size == len(data)
        archive = zipfile.ZipFile(io.BytesIO(data))
        assert {name: archive.read(name) for name in archive.namelist()} == self.FILES

    async def test_a_deleted_or_unknown_archive_reads_as_none(self, archives: ArchiveStore) -> None:
        await archives.write(self.NAME, self.FILES)
        await archives.delete(self.NAME)
        await archives.delete(self.NAME)  # again: nothing there, no error

        assert await archives.read(self.NAME) is None
        assert await archives.read("b" * 64 + ".zip") is None

    async def test_names_that_are_not_archive_names_are_refused(
        self, archives: ArchiveStore
    ) -> None:
        with pytest.raises(ValueError, match="archive"):
            await archives.write("../escape.zip", self.FILES)
