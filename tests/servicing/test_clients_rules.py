"""Pure client rules: duplicate keys (accents, case, spaces, punctuation, name order), the status
machine, KYC completeness and file checks. No database."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servicing.clients.kyc_rules import (
    DEFAULT_REQUIREMENTS,
    DOCUMENT_BYTES_MAX,
    ContentType,
    DocumentFacts,
    DocumentPolicy,
    DocumentType,
    FileRefusal,
    VerificationStatus,
    check_file,
    is_valid_on,
    kyc_gaps,
)
from servicing.clients.model import ClientProfile, ClientStatus, ClientType, Gender
from servicing.clients.rules import (
    ALLOWED_TRANSITIONS,
    TransitionRefused,
    check_transition,
    name_key,
    national_id_key,
    reason_required,
)

ACCENTED = {"a": "àâä", "e": "éèêë", "i": "îï", "o": "ôö", "u": "ùûü", "c": "ç", "n": "ñ"}
SEPARATORS = st.sampled_from([" ", "  ", "-", "'", ".", ", ", "\t"])
tokens = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12)


def _accent(word: str, choices: list[int]) -> str:
    """Put an accent on some letters that have accented forms."""
    out = []
    for i, letter in enumerate(word):
        forms = ACCENTED.get(letter)
        out.append(forms[choices[i % len(choices)] % len(forms)] if forms and choices[i % len(choices)] % 2 else letter)
    return "".join(out)


@given(words=st.lists(tokens, min_size=1, max_size=5), data=st.data())
def test_name_key_ignores_accents_case_separators_and_order(words: list[str], data: st.DataObject) -> None:
    plain = name_key(" ".join(words))
    choices = data.draw(st.lists(st.integers(0, 7), min_size=1, max_size=8))
    accented = [_accent(w, choices) for w in words]
    shuffled = data.draw(st.permutations(accented))
    separator = data.draw(SEPARATORS)
    variant = separator.join(w.upper() if i % 2 else w.capitalize() for i, w in enumerate(shuffled))
    assert name_key(variant) == plain
    assert name_key(f"  {variant}  ") == plain
    # split across first / middle / last name fields in any way: the same person
    cut = data.draw(st.integers(0, len(shuffled)))
    assert name_key(" ".join(shuffled[:cut]), None, " ".join(shuffled[cut:])) == plain


@given(words=st.lists(tokens, min_size=1, max_size=4), extra=tokens)
def test_name_key_tells_different_names_apart(words: list[str], extra: str) -> None:
    assert name_key(*words, extra) != name_key(*words)
    assert name_key(name_key(*words)) == name_key(*words), "a key is its own key"


def test_name_key_hand_checked_examples() -> None:
    assert name_key("Ndèye-Fatou", None, "DIOP") == name_key("diop ndeye fatou") == "diop fatou ndeye"
    assert name_key("Cœur", "Ørsted") == "coeur orsted"
    assert name_key("Ndèye Fatou") != name_key("Ndèye Fatim")


@given(digits=st.text(alphabet="0123456789ABCDEFGHJKabcdefghjk", min_size=1, max_size=20), data=st.data())
def test_national_id_key_ignores_case_spaces_dots_and_dashes(digits: str, data: st.DataObject) -> None:
    noise = data.draw(st.lists(st.sampled_from([" ", ".", "-", "/"]), min_size=len(digits), max_size=len(digits)))
    spaced = "".join(c + n for c, n in zip(digits.swapcase(), noise, strict=True))
    assert national_id_key(spaced) == national_id_key(digits) == digits.upper()


@given(current=st.sampled_from(ClientStatus), target=st.sampled_from(ClientStatus),
       reason=st.one_of(st.none(), st.just(""), st.just("   "), st.text(min_size=1, max_size=20)))
def test_a_transition_is_refused_exactly_when_not_allowed_or_lacking_its_reason(
    current: ClientStatus, target: ClientStatus, reason: str | None,
) -> None:
    allowed = target in ALLOWED_TRANSITIONS[current]
    reasoned = bool(reason and reason.strip()) or not reason_required(current, target)
    if allowed and reasoned:
        check_transition(current, target, reason)
    else:
        with pytest.raises(TransitionRefused) as refused:
            check_transition(current, target, reason)
        assert refused.value.field == ("status" if not allowed else "reason")


def test_status_machine_hand_checked() -> None:
    assert all(status not in ALLOWED_TRANSITIONS[status] for status in ClientStatus), "no change to itself"
    assert ClientStatus.ACTIVE not in ALLOWED_TRANSITIONS[ClientStatus.CLOSED], "a closed client is reviewed first"
    assert ClientStatus.ACTIVE not in ALLOWED_TRANSITIONS[ClientStatus.BLACKLISTED]
    assert ClientStatus.PENDING not in ALLOWED_TRANSITIONS[ClientStatus.ACTIVE]
    assert reason_required(ClientStatus.ACTIVE, ClientStatus.CLOSED)
    assert reason_required(ClientStatus.BLACKLISTED, ClientStatus.PENDING)
    assert not reason_required(ClientStatus.PENDING, ClientStatus.ACTIVE)
    assert not reason_required(ClientStatus.CLOSED, ClientStatus.PENDING)


AS_OF = date(2026, 6, 30)
INDIVIDUAL = ClientProfile(client_type=ClientType.INDIVIDUAL, office_id=1, first_name="Awa", last_name="Diop",
                           birth_date=date(1990, 1, 1), gender=Gender.FEMALE, national_id="1751", phone="771234567",
                           address="Thiès")


@st.composite
def documents(draw: st.DrawFn) -> list[DocumentFacts]:
    count = draw(st.integers(0, 6))
    return [DocumentFacts(
        document_id=i + 1, document_type=draw(st.sampled_from(DocumentType)),
        status=draw(st.sampled_from(VerificationStatus)),
        expires_on=draw(st.one_of(st.none(), st.dates(AS_OF - timedelta(days=400), AS_OF + timedelta(days=400)))),
        file_count=draw(st.integers(0, 2))) for i in range(count)]


@given(docs=documents(), blanks=st.sets(st.sampled_from(DEFAULT_REQUIREMENTS[ClientType.INDIVIDUAL].required_fields)))
def test_kyc_is_complete_exactly_when_every_field_and_requirement_is_met(docs: list[DocumentFacts],
                                                                         blanks: set[str]) -> None:
    requirement = DEFAULT_REQUIREMENTS[ClientType.INDIVIDUAL]
    profile = INDIVIDUAL.__class__(**{**{f: getattr(INDIVIDUAL, f) for f in INDIVIDUAL.__struct_fields__},
                                      **dict.fromkeys(blanks)})
    report = kyc_gaps(profile, docs, requirement, on=AS_OF)
    satisfied = all(any(d.document_type in alternatives and d.status is VerificationStatus.VERIFIED
                        and d.file_count > 0 and (d.expires_on is None or d.expires_on >= AS_OF) for d in docs)
                    for alternatives in requirement.required_documents)
    assert set(report.missing_fields) == blanks
    assert report.complete == (not blanks and satisfied)


@given(docs=documents(), later_days=st.integers(0, 800))
def test_kyc_never_completes_by_waiting(docs: list[DocumentFacts], later_days: int) -> None:
    requirement = DEFAULT_REQUIREMENTS[ClientType.INDIVIDUAL]
    now = kyc_gaps(INDIVIDUAL, docs, requirement, on=AS_OF)
    later = kyc_gaps(INDIVIDUAL, docs, requirement, on=AS_OF + timedelta(days=later_days))
    assert now.complete or not later.complete
    assert set(now.expired_documents) <= set(later.expired_documents)


@given(docs=documents(), document_type=st.sampled_from(DocumentType))
def test_adding_a_valid_document_never_makes_kyc_less_complete(docs: list[DocumentFacts],
                                                               document_type: DocumentType) -> None:
    requirement = DEFAULT_REQUIREMENTS[ClientType.INDIVIDUAL]
    before = kyc_gaps(INDIVIDUAL, docs, requirement, on=AS_OF)
    valid = DocumentFacts(document_id=99, document_type=document_type, status=VerificationStatus.VERIFIED,
                          expires_on=AS_OF, file_count=1)
    assert is_valid_on(valid, AS_OF), "valid through its expiry date"
    after = kyc_gaps(INDIVIDUAL, [*docs, valid], requirement, on=AS_OF)
    assert set(after.missing_documents) <= set(before.missing_documents)
    assert before.complete <= after.complete


def test_kyc_requirements_per_client_type_hand_checked() -> None:
    business = ClientProfile(client_type=ClientType.BUSINESS, office_id=1, legal_name="SARL Baobab",
                             registration_number="SN-DKR-2020-B-1", sector="Commerce", address="Dakar", phone="338000000")
    report = kyc_gaps(business, [DocumentFacts(document_id=1, document_type=DocumentType.BUSINESS_REGISTRATION,
                                               status=VerificationStatus.VERIFIED, expires_on=None, file_count=1)],
                      DEFAULT_REQUIREMENTS[ClientType.BUSINESS], on=AS_OF)
    assert report.missing_fields == ("representatives",)
    assert report.missing_documents == ((DocumentType.TAX_REGISTRATION,),)
    group = ClientProfile(client_type=ClientType.GROUP, office_id=1, group_name="GIE Ndiambour")
    report = kyc_gaps(group, [], DEFAULT_REQUIREMENTS[ClientType.GROUP], on=AS_OF)
    assert report.missing_fields == ("member_ids", "leader_id") and not report.complete


MAGIC = {ContentType.PDF: b"%PDF-1.7\n", ContentType.JPEG: b"\xff\xd8\xff\xe0", ContentType.PNG: b"\x89PNG\r\n\x1a\n",
         ContentType.WEBP: b"RIFF\x00\x00\x00\x00WEBPVP8 "}


@given(kind=st.sampled_from(ContentType), tail=st.binary(max_size=64), bytes_max=st.integers(1, 200),
       accepted=st.sets(st.sampled_from(ContentType), min_size=1),
       declared=st.sampled_from(["", "application/octet-stream", *list(ContentType)]))
def test_a_file_is_accepted_only_within_the_policy(kind: ContentType, tail: bytes, bytes_max: int,
                                                   accepted: set[ContentType], declared: str) -> None:
    content = MAGIC[kind] + tail
    policy = DocumentPolicy(bytes_max=bytes_max, content_types=frozenset(accepted))
    sniffed, refusal = check_file(content, declared, policy)
    if refusal is None:
        assert sniffed is kind and kind in accepted and len(content) <= bytes_max
        assert declared in ("", "application/octet-stream", kind.value)
    elif len(content) > bytes_max:
        assert refusal is FileRefusal.TOO_LARGE
    elif kind not in accepted:
        assert refusal is FileRefusal.NOT_ACCEPTED
    else:
        assert refusal is FileRefusal.MISDECLARED and declared != kind.value


@given(content=st.binary(max_size=64))
def test_unrecognised_bytes_are_refused(content: bytes) -> None:
    sniffed, refusal = check_file(content, "image/jpeg", DocumentPolicy())
    assert (refusal is None) == (sniffed is not None and sniffed.value == "image/jpeg")
    if not content:
        assert refusal is FileRefusal.EMPTY


def test_the_policy_stays_within_what_grand_livre_accepts() -> None:
    with pytest.raises(ValueError, match="between"):
        DocumentPolicy(bytes_max=DOCUMENT_BYTES_MAX + 1)
    with pytest.raises(ValueError, match="at least one"):
        DocumentPolicy(content_types=frozenset())


def test_document_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    from servicing.config import Settings

    default = Settings.from_environment().document_policy()
    assert default == DocumentPolicy() and Settings.from_environment().documents_folder is None
    monkeypatch.setenv("GRANDLIVRE_DOCUMENTS_FOLDER", str(tmp_path))
    monkeypatch.setenv("GRANDLIVRE_DOCUMENT_BYTES_MAX", "1000000")
    monkeypatch.setenv("GRANDLIVRE_DOCUMENT_CONTENT_TYPES", " application/pdf, IMAGE/JPEG ")
    settings = Settings.from_environment()
    assert str(settings.documents_folder) == str(tmp_path)
    assert settings.document_policy() == DocumentPolicy(
        bytes_max=1_000_000, content_types=frozenset({ContentType.PDF, ContentType.JPEG}))
    for name, value in (("GRANDLIVRE_DOCUMENT_BYTES_MAX", str(DOCUMENT_BYTES_MAX + 1)),
                        ("GRANDLIVRE_DOCUMENT_BYTES_MAX", "5MB"), ("GRANDLIVRE_DOCUMENT_CONTENT_TYPES", "image/gif"),
                        ("GRANDLIVRE_DOCUMENT_CONTENT_TYPES", " , ")):
        monkeypatch.setenv(name, value)
        with pytest.raises(ValueError, match=name):
            Settings.from_environment()
        monkeypatch.delenv(name)
