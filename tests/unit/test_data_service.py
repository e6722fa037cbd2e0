"""The data service with in-memory fakes: exports and their links, deletions and their
grace period, an erasure held for a sole owner, and each part called once."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Self

import pytest

from adapters.memory.data import InMemoryArchiveStore, InMemoryDataRequestStore
from core.kernel import DomainEvent, FixedClock, IdGenerator
from core.safety.data import (
    DataDeletionRequested,
    DataErased,
    DataExportReady,
    DataRequest,
    DataRequestStateError,
    DataSubject,
    ExportNotFoundError,
    Pseudonym,
    Records,
    RequestState,
    SoleOwnerError,
    SubjectKind,
)
from core.safety.data_service import DataService, archive_name

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


class FakeUow:
    def __init__(self) -> None:
        self.events: list[DomainEvent] = []

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    def raise_event(self, event: DomainEvent) -> None:
        self.events.append(event)

    def after_commit(self, callback: Any) -> None:
        return None

    async def commit(self) -> None:
        return None


class FakePart:
    def __init__(self, name: str) -> None:
        self.name = name
        self.erased: list[tuple[str, str]] = []

    async def export_user(self, user_id: str) -> Records:
        return {"things": [{"owner": user_id}]}

    async def export_workspace(self, workspace_id: str) -> Records:
        return {"things": [{"workspace": workspace_id}]}

    async def erase_user(self, subject: DataSubject, pseudonym: Pseudonym) -> None:
        self.erased.append((subject.user_id, pseudonym.id))

    async def erase_workspace(self, workspace_id: str) -> None:
        self.erased.append((workspace_id, workspace_id))


class FakeDirectory:
    def __init__(self) -> None:
        self.sole: dict[str, list[str]] = {}

    async def subject(self, user_id: str) -> DataSubject | None:
        return DataSubject(user_id=user_id, email=f"{user_id}@example.com", name="Ada")

    async def sole_owned_workspaces(self, user_id: str) -> Sequence[str]:
        return self.sole.get(user_id, [])


class World:
    def __init__(self) -> None:
        self.clock = FixedClock()
        self.uow = FakeUow()
        self.requests = InMemoryDataRequestStore()
        self.parts = [FakePart("one"), FakePart("two")]
        self.directory = FakeDirectory()
        self.archives = InMemoryArchiveStore()
        self.service = DataService(
            uow=self.uow,
            requests=self.requests,
            parts=self.parts,
            directory=self.directory,
            archives=self.archives,
            clock=self.clock,
            ids=IdGenerator(),
            link_lifetime=24 * HOUR,
            account_grace=30 * DAY,
        )


@pytest.fixture
def world() -> World:
    return World()


async def test_an_export_holds_each_parts_files_and_a_manifest(world: World) -> None:
    request, new = await world.service.request_export(
        SubjectKind.USER, "usr_1", requested_by="usr_1"
    )
    built = await world.service.build_export(request.id)

    assert new
    assert built is not None
    assert built.state is RequestState.READY
    assert built.token is not None
    (archive,) = world.archives.archives.values()
    files = set(zipfile.ZipFile(io.BytesIO(archive)).namelist())
    assert files == {"one/things.json", "two/things.json", "manifest.json"}
    assert any(isinstance(e, DataExportReady) for e in world.uow.events)


async def test_asking_again_while_an_export_is_on_its_way_answers_the_same_one(
    world: World,
) -> None:
    first, _ = await world.service.request_export(SubjectKind.USER, "usr_1", requested_by="usr_1")
    again, new = await world.service.request_export(SubjectKind.USER, "usr_1", requested_by="usr_1")

    assert (again.id, new) == (first.id, False)


async def test_a_link_works_until_it_expires_then_its_archive_goes(world: World) -> None:
    request, _ = await world.service.request_export(SubjectKind.USER, "usr_1", requested_by=None)
    built = await world.service.build_export(request.id)
    assert built is not None
    assert built.token is not None
    token = built.token

    async def nobody(_: DataRequest) -> bool:
        return False

    with pytest.raises(ExportNotFoundError):
        await world.service.download(token, allowed=nobody)
    found, archive = await world.service.download(token)
    world.clock.advance(24 * HOUR)
    with pytest.raises(ExportNotFoundError):
        await world.service.download(token)
    expired = await world.service.expire_exports()

    assert found.id == request.id
    assert archive.startswith(b"PK")  # a zip
    assert expired == 1
    assert archive_name(token) not in world.archives.archives
    assert world.requests.rows[request.id].state is RequestState.EXPIRED


async def test_an_account_is_erased_in_every_part_once_the_grace_period_has_passed(
    world: World,
) -> None:
    scheduled = await world.service.request_account_deletion("usr_1", requested_by="usr_1")

    world.clock.advance(30 * DAY - HOUR)
    early = await world.service.erase(scheduled.id)
    world.clock.advance(HOUR)
    erased = await world.service.erase(scheduled.id)

    assert (early, erased) == (False, True)
    request = world.requests.rows[scheduled.id]
    assert request.state is RequestState.ERASED
    assert request.subject_id.startswith("erased_")
    assert request.requested_by == request.subject_id
    assert [part.erased for part in world.parts] == [[("usr_1", request.subject_id)]] * 2
    (done,) = [e for e in world.uow.events if isinstance(e, DataErased)]
    assert "usr_1" not in str(done)
    assert any(isinstance(e, DataDeletionRequested) for e in world.uow.events)


async def test_a_sole_owner_is_refused_and_an_erasure_is_held_for_one(world: World) -> None:
    world.directory.sole["usr_1"] = ["ws_1"]
    with pytest.raises(SoleOwnerError):
        await world.service.request_account_deletion("usr_1", requested_by="usr_1")

    world.directory.sole.clear()
    scheduled = await world.service.request_account_deletion("usr_1", requested_by="usr_1")
    world.directory.sole["usr_1"] = ["ws_2"]  # the other owner left meanwhile
    world.clock.advance(31 * DAY)
    held = await world.service.erase(scheduled.id)

    assert not held
    request = world.requests.rows[scheduled.id]
    assert request.state is RequestState.SCHEDULED
    assert request.error == "held: the only owner of ws_2"
    assert world.parts[0].erased == []


async def test_a_canceled_deletion_is_never_erased(world: World) -> None:
    scheduled = await world.service.request_account_deletion("usr_1", requested_by="usr_1")
    await world.service.cancel_account_deletion("usr_1")
    world.clock.advance(31 * DAY)

    assert await world.service.due_deletions() == []
    assert not await world.service.erase(scheduled.id)
    with pytest.raises(DataRequestStateError):
        world.requests.rows[scheduled.id].cancel(world.clock.now())


async def test_a_purged_workspace_is_erased_once_however_often_it_is_heard_of(
    world: World,
) -> None:
    await world.service.workspace_deletion_scheduled("ws_1", world.clock.now() + 30 * DAY)
    first = await world.service.erase_workspace("ws_1")
    again = await world.service.erase_workspace("ws_1")

    assert first.id == again.id
    assert first.state is RequestState.ERASED
    assert world.parts[0].erased == [("ws_1", "ws_1")]


def test_a_pseudonym_replaces_the_id_and_email_and_a_long_enough_name() -> None:
    pseudonym = Pseudonym.of("abc123")
    ada = DataSubject(user_id="usr_1", email="ada@example.com", name="Ada Lovelace")
    al = DataSubject(user_id="usr_2", email="al@example.com", name="Al")

    assert pseudonym.replacements(ada) == {
        "usr_1": "erased_abc123",
        "ada@example.com": "erased_abc123@erased.invalid",
    }
    assert pseudonym.name_replacements(ada) == {"Ada Lovelace": "Erased user"}
    assert pseudonym.name_replacements(al) == {}


async def test_a_build_that_keeps_failing_is_marked_failed_and_a_new_one_can_start(
    world: World,
) -> None:
    request, _ = await world.service.request_export(SubjectKind.USER, "usr_1", requested_by=None)
    await world.service.export_failed(request.id, "OSError: disk full")
    again, new = await world.service.request_export(SubjectKind.USER, "usr_1", requested_by=None)

    failed = world.requests.rows[request.id]
    assert (failed.state, failed.error) == (RequestState.FAILED, "OSError: disk full")
    assert new
    assert again.id != request.id
