"""Clients through the service layer against PostgreSQL: creation, duplicates, updates with
history, the status machine, group membership and KYC completeness."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest

from servicing.clients import documents, kyc, service
from servicing.clients.commands import (
    AttachFile,
    ChangeClientStatus,
    ClientFilter,
    CreateClient,
    ProfileChanges,
    RecordDocument,
    UpdateClient,
    VerifyDocument,
)
from servicing.clients.errors import (
    ClientRejected,
    DuplicateClient,
    KycIncomplete,
    SelfVerificationRefused,
    UnsupportedFile,
)
from servicing.clients.kyc_rules import DocumentType, VerificationStatus
from servicing.clients.model import ClientProfile, ClientStatus, ClientType, Gender
from servicing.clients.rules import TransitionRefused
from servicing.clients.storage import DatabaseStore, FolderStore
from servicing.errors import Conflict

_ids = itertools.count(1)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def person(world, **overrides) -> ClientProfile:  # type: ignore[no-untyped-def]
    n = next(_ids)
    values = dict(client_type=ClientType.INDIVIDUAL, office_id=world.office_id, first_name="Awa",
                  last_name=f"Diop{world.prefix}{n}", birth_date=date(1990, 5, 17), gender=Gender.FEMALE,
                  national_id=f"{world.prefix}-{n}", phone="+221 77 123 45 67", address="Rue 10, Thiès")
    values.update(overrides)
    return ClientProfile(**values)  # type: ignore[arg-type]


async def test_create_then_update_keeps_who_when_before_after(uow_factory, world) -> None:  # type: ignore[no-untyped-def]
    created = await service.create_client(uow_factory(), CreateClient(profile=person(world), actor="teller-1"))
    assert created.client.status is ClientStatus.PENDING and created.client.version == 1
    updated = await service.update_client(uow_factory(), UpdateClient(
        client_id=created.client.client_id, actor="teller-2",
        changes=ProfileChanges(phone="+221 70 000 00 01", occupation="Commerçante")))
    assert updated.client.version == 2 and updated.updated_by == "teller-2"
    items, _ = await service.client_history(uow_factory(), created.client.client_id, limit=10, cursor=None)
    assert [i.action for i in items] == ["created", "updated"]
    assert items[1].changed_by == "teller-2"
    assert items[1].before == {"phone": "+221 77 123 45 67", "occupation": None}
    assert items[1].after == {"phone": "+221 70 000 00 01", "occupation": "Commerçante"}


async def test_duplicate_national_id_is_refused_whatever_the_spelling(uow_factory, world) -> None:  # type: ignore[no-untyped-def]
    first = await service.create_client(uow_factory(), CreateClient(profile=person(world, national_id="1 751 1990 00123"), actor="t"))
    with pytest.raises(DuplicateClient) as refused:
        await service.create_client(uow_factory(), CreateClient(
            profile=person(world, national_id="1751-1990-00123"), actor="t", allow_duplicate=True))
    assert refused.value.duplicate_ids == [first.client.client_id]
    assert refused.value.field == "national_id"


async def test_same_name_and_birth_date_needs_the_override(uow_factory, world) -> None:  # type: ignore[no-untyped-def]
    name = f"Ndèye-Fatou {world.prefix}"
    first = await service.create_client(uow_factory(), CreateClient(
        profile=person(world, first_name=name, last_name="Sène", national_id=None), actor="t"))
    twin = person(world, first_name="SENE", last_name=f"ndeye fatou {world.prefix}", national_id=None)
    with pytest.raises(DuplicateClient) as refused:
        await service.create_client(uow_factory(), CreateClient(profile=twin, actor="t"))
    assert refused.value.duplicate_ids == [first.client.client_id]
    assert f"client {first.client.client_id}" in refused.value.message
    second = await service.create_client(uow_factory(), CreateClient(profile=twin, actor="t", allow_duplicate=True))
    items, _ = await service.client_history(uow_factory(), second.client.client_id, limit=5, cursor=None)
    assert items[0].after["duplicate_override"] == [first.client.client_id]


async def test_bad_profile_names_every_field_and_writes_nothing(uow_factory, world) -> None:  # type: ignore[no-untyped-def]
    bad = person(world, birth_date=date.today() + timedelta(days=1), legal_name="SARL", phone="12",
                 income_monthly=__import__("decimal").Decimal("10.5"), income_currency="XOF")
    with pytest.raises(ClientRejected) as refused:
        await service.create_client(uow_factory(), CreateClient(profile=bad, actor="t"))
    fields = {p["field"] for p in refused.value.problems}
    assert fields == {"birth_date", "legal_name", "phone", "income_monthly"}
    page = await service.list_clients(uow_factory(), ClientFilter(national_id=bad.national_id), limit=10, cursor=None)
    assert page.items == []


async def test_status_machine_and_closed_clients_are_frozen(uow_factory, world) -> None:  # type: ignore[no-untyped-def]
    client_id = (await service.create_client(uow_factory(), CreateClient(profile=person(world), actor="t"))).client.client_id
    active = await service.change_status(uow_factory(), ChangeClientStatus(client_id=client_id, status=ClientStatus.ACTIVE, actor="t"))
    assert active.client.activated_on == date.today()
    with pytest.raises(TransitionRefused, match="reason"):
        await service.change_status(uow_factory(), ChangeClientStatus(client_id=client_id, status=ClientStatus.CLOSED, actor="t"))
    await service.change_status(uow_factory(), ChangeClientStatus(
        client_id=client_id, status=ClientStatus.CLOSED, actor="t", reason="Départ de la zone"))
    with pytest.raises(TransitionRefused):
        await service.change_status(uow_factory(), ChangeClientStatus(client_id=client_id, status=ClientStatus.ACTIVE, actor="t"))
    with pytest.raises(TransitionRefused):
        await service.update_client(uow_factory(), UpdateClient(client_id=client_id, actor="t", changes=ProfileChanges(city="Mbour")))
    items, _ = await service.client_history(uow_factory(), client_id, limit=10, cursor=None)
    assert [i.after.get("status") for i in items] == ["pending", "active", "closed"]


async def test_group_members_must_be_individuals_of_the_office(uow_factory, world) -> None:  # type: ignore[no-untyped-def]
    a = (await service.create_client(uow_factory(), CreateClient(profile=person(world), actor="t"))).client.client_id
    b = (await service.create_client(uow_factory(), CreateClient(profile=person(world), actor="t"))).client.client_id
    group = ClientProfile(client_type=ClientType.GROUP, office_id=world.office_id, group_name=f"GIE {world.prefix}",
                          member_ids=(a, b), leader_id=a)
    created = await service.create_client(uow_factory(), CreateClient(profile=group, actor="t"))
    assert set(created.client.profile.member_ids) == {a, b}
    with pytest.raises(ClientRejected) as refused:
        await service.update_client(uow_factory(), UpdateClient(
            client_id=created.client.client_id, actor="t", changes=ProfileChanges(member_ids=(a, 999_999))))
    assert refused.value.problems[0]["field"] == "member_ids[1]"
    with pytest.raises(ClientRejected, match="leader"):
        await service.update_client(uow_factory(), UpdateClient(
            client_id=created.client.client_id, actor="t", changes=ProfileChanges(member_ids=(b,))))


async def test_stale_version_is_refused(uow_factory, world) -> None:  # type: ignore[no-untyped-def]
    client_id = (await service.create_client(uow_factory(), CreateClient(profile=person(world), actor="t"))).client.client_id
    with pytest.raises(Conflict):
        await service.update_client(uow_factory(), UpdateClient(
            client_id=client_id, actor="t", expected_version=7, changes=ProfileChanges(city="Kaolack")))


@pytest.mark.parametrize("store_kind", ["database", "folder"])
async def test_kyc_completes_with_a_verified_unexpired_document(uow_factory, world, tmp_path, store_kind) -> None:  # type: ignore[no-untyped-def]
    store = DatabaseStore() if store_kind == "database" else FolderStore(tmp_path)
    client_id = (await service.create_client(uow_factory(), CreateClient(profile=person(world), actor="t"))).client.client_id
    report = await kyc.kyc_report(uow_factory(), client_id)
    assert not report.complete and report.missing_documents
    document = await documents.record_document(uow_factory(), RecordDocument(
        client_id=client_id, document_type=DocumentType.NATIONAL_ID_CARD, number="123", actor="teller-1",
        issued_on=date(2020, 1, 1), expires_on=date.today() + timedelta(days=30)))
    with pytest.raises(UnsupportedFile):
        await documents.attach_file(uow_factory(), store, AttachFile(
            client_id=client_id, document_id=document.document_id, file_name="cni.jpg",
            declared_content_type="image/jpeg", content=b"MZ\x90\x00 not an image", actor="teller-1"))
    info = await documents.attach_file(uow_factory(), store, AttachFile(
        client_id=client_id, document_id=document.document_id, file_name="cni.jpg",
        declared_content_type="image/jpeg", content=JPEG, actor="teller-1"))
    with pytest.raises(SelfVerificationRefused, match="four eyes"):
        await documents.verify_document(uow_factory(), VerifyDocument(
            client_id=client_id, document_id=document.document_id, status=VerificationStatus.VERIFIED, actor="teller-1"))
    verified = await documents.verify_document(uow_factory(), VerifyDocument(
        client_id=client_id, document_id=document.document_id, status=VerificationStatus.VERIFIED, actor="chef-agence"))
    assert verified.verified_by == "chef-agence" and verified.verified_at is not None
    assert (await kyc.kyc_report(uow_factory(), client_id)).complete
    later = await kyc.kyc_report(uow_factory(), client_id, on=date.today() + timedelta(days=31))
    assert not later.complete and later.expired_documents == (document.document_id,)
    async with uow_factory() as uow:
        with pytest.raises(KycIncomplete):
            await kyc.require_kyc_complete(uow, client_id, on=date.today() + timedelta(days=31))
    read = await documents.read_file(uow_factory(), store, client_id, document.document_id, info.file_id)
    assert read.content == JPEG and read.info.content_type == "image/jpeg"
