"""Resend's Svix-signed delivery webhooks: verified as Svix does, read as ProviderEvents.

Signatures here are computed by hand (``hmac`` with the raw key), against Svix's
published reference vector, and against the ``resend`` SDK's own verifier, so a
verifier that merely agrees with itself cannot pass."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import resend

from adapters.resend import ResendWebhookVerifier
from core.notifications import DeliveryStatus, InvalidWebhookSignatureError, ProviderEvent
from entrypoints.testing.resend_standin import DEFAULT_WEBHOOK_SECRET, ResendStandin, sign_svix

KEY = b"a 32-byte key for Resend's hooks"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
NOW = datetime(2026, 9, 1, 12, 0, 0, tzinfo=UTC)
TS = int(NOW.timestamp())
MSG_ID = "msg_2LJmcHDYAs0t9h7YFk2dz5yvrU1"
EMAIL_ID = "4ef9a417-02e9-4d39-ad75-9611e0fcc33c"

# Svix's reference vector (svix/svix-webhooks python/tests/test_webhooks.py,
# test_sign_function; the Standard Webhooks specification uses the same one).
REF_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
REF_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
REF_TS = 1614265330
REF_BODY = b'{"test": 2432232314}'
REF_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

# An ``email.delivered`` body as Resend's documentation shows it.
DELIVERED: dict[str, Any] = {
    "type": "email.delivered",
    "created_at": "2026-09-01T11:59:58.123Z",
    "data": {
        "broadcast_id": "8b146471-e88e-4322-86af-016cd36fd216",
        "created_at": "2026-09-01 11:59:55.894719+00",
        "email_id": EMAIL_ID,
        "from": "Acme <onboarding@resend.dev>",
        "to": ["delivered@resend.dev"],
        "subject": "Sending this example",
        "tags": {"category": "identity-verify_email"},
    },
}


def hand_signature(body: bytes, *, key: bytes = KEY, msg_id: str = MSG_ID, ts: int = TS) -> str:
    """``v1,`` + base64(HMAC-SHA256(key, "{id}.{ts}.{body}")), straight from the scheme."""
    digest = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers_for(body: bytes, *, ts: int = TS, signature: str | None = None) -> dict[str, str]:
    return {
        "svix-id": MSG_ID,
        "svix-timestamp": str(ts),
        "svix-signature": signature or hand_signature(body, ts=ts),
    }


def as_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def refused(
    verifier: ResendWebhookVerifier, headers: dict[str, str], body: bytes, now: datetime = NOW
) -> InvalidWebhookSignatureError:
    with pytest.raises(InvalidWebhookSignatureError) as caught:
        verifier.parse(headers, body, now)
    return caught.value


@pytest.fixture
def verifier() -> ResendWebhookVerifier:
    return ResendWebhookVerifier(SECRET)


@pytest.fixture
def standin() -> Iterator[ResendStandin]:
    with ResendStandin() as running:
        yield running


# -- the signature ---------------------------------------------------------------------


def test_a_documented_delivery_with_a_hand_computed_signature_is_read(
    verifier: ResendWebhookVerifier,
) -> None:
    body = as_body(DELIVERED)

    event = verifier.parse(headers_for(body), body, NOW)

    assert event == ProviderEvent(
        provider="resend",
        event_id=MSG_ID,
        event_type="email.delivered",
        message_id=EMAIL_ID,
        status=DeliveryStatus.DELIVERED,
        occurred_at=datetime(2026, 9, 1, 11, 59, 58, 123000, tzinfo=UTC),
        permanent=False,
        detail=None,
    )


def test_the_reference_vector_verifies() -> None:
    # The reference body is no Resend event: getting as far as reading it (and refusing
    # it as a payload, not as a signature) is the proof that the signature matched.
    verifier = ResendWebhookVerifier(REF_SECRET)
    headers = {"svix-id": REF_ID, "svix-timestamp": str(REF_TS), "svix-signature": REF_SIGNATURE}

    error = refused(verifier, headers, REF_BODY, datetime.fromtimestamp(REF_TS, UTC))

    assert error.extra["reason"] == "payload"
    headers["svix-signature"] = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="  # one bit off
    error = refused(verifier, headers, REF_BODY, datetime.fromtimestamp(REF_TS, UTC))
    assert error.extra["reason"] == "signature"


def test_the_standins_signature_matches_the_reference_vector() -> None:
    assert sign_svix(REF_SECRET, REF_ID, REF_TS, REF_BODY) == {
        "svix-id": REF_ID,
        "svix-timestamp": str(REF_TS),
        "svix-signature": REF_SIGNATURE,
    }


def test_what_the_standin_signs_the_resend_sdk_verifies_and_so_do_we(
    standin: ResendStandin,
) -> None:
    now = int(time.time())
    body = standin.webhook_event(EMAIL_ID, "email.sent")
    headers = sign_svix(DEFAULT_WEBHOOK_SECRET, MSG_ID, now, body)

    sdk_payload = resend.Webhooks.verify(
        {
            "payload": body.decode(),
            "headers": {
                "id": headers["svix-id"],
                "timestamp": headers["svix-timestamp"],
                "signature": headers["svix-signature"],
            },
            "webhook_secret": DEFAULT_WEBHOOK_SECRET,
        }
    )
    event = ResendWebhookVerifier(DEFAULT_WEBHOOK_SECRET).parse(
        headers, body, datetime.fromtimestamp(now, UTC)
    )

    assert sdk_payload["type"] == event.event_type == "email.sent"
    assert event.status is DeliveryStatus.SENT


def test_header_names_are_matched_whatever_their_case(verifier: ResendWebhookVerifier) -> None:
    body = as_body(DELIVERED)
    headers = {name.upper(): value for name, value in headers_for(body).items()}
    headers["Svix-Id"] = headers.pop("SVIX-ID")

    assert verifier.parse(headers, body, NOW).event_id == MSG_ID


def test_a_signature_made_with_another_secret_is_refused_without_leaking_ours(
    verifier: ResendWebhookVerifier,
) -> None:
    body = as_body(DELIVERED)
    forged = hand_signature(body, key=b"not the key at all, but 32 bytes")

    error = refused(verifier, headers_for(body, signature=forged), body)

    assert error.extra["reason"] == "signature"
    expected = hand_signature(body).removeprefix("v1,")
    assert expected not in error.detail
    assert expected not in repr(error.extra)
    assert SECRET.removeprefix("whsec_") not in error.detail


def test_a_body_changed_after_signing_is_refused(verifier: ResendWebhookVerifier) -> None:
    signed = as_body(DELIVERED)
    tampered = as_body({**DELIVERED, "type": "email.bounced"})

    error = refused(verifier, headers_for(signed), tampered)

    assert error.extra["reason"] == "signature"


def test_the_id_and_timestamp_are_part_of_what_is_signed(verifier: ResendWebhookVerifier) -> None:
    body = as_body(DELIVERED)
    other_id = {**headers_for(body), "svix-id": "msg_another"}
    other_time = {**headers_for(body), "svix-timestamp": str(TS - 1)}

    assert refused(verifier, other_id, body).extra["reason"] == "signature"
    assert refused(verifier, other_time, body).extra["reason"] == "signature"


def test_the_second_of_several_signatures_may_be_the_one_that_matches(
    verifier: ResendWebhookVerifier,
) -> None:
    body = as_body(DELIVERED)
    wrong = hand_signature(body, key=b"the secret before the rotation!!")
    signatures = f"{wrong} {hand_signature(body)}"

    event = verifier.parse(headers_for(body, signature=signatures), body, NOW)

    assert event.status is DeliveryStatus.DELIVERED


def test_other_signature_versions_and_garbage_are_skipped(
    verifier: ResendWebhookVerifier,
) -> None:
    body = as_body(DELIVERED)
    right = hand_signature(body)
    value = right.removeprefix("v1,")
    mixed = f"v1a,{value} v2,{value} v1,not*base64 nonsense {right}"

    assert verifier.parse(headers_for(body, signature=mixed), body, NOW).message_id == EMAIL_ID
    error = refused(verifier, headers_for(body, signature=f"v1a,{value} v2,{value}"), body)
    assert error.extra["reason"] == "signature"
    assert "no v1 signature" in error.detail


# -- the timestamp ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "reason"),
    [(-301, "stale"), (-3600, "stale"), (301, "future"), (86_400, "future")],
)
def test_a_timestamp_outside_the_tolerance_is_refused(
    verifier: ResendWebhookVerifier, offset: int, reason: str
) -> None:
    body = as_body(DELIVERED)

    error = refused(verifier, headers_for(body, ts=TS + offset), body)

    assert error.extra["reason"] == reason


@pytest.mark.parametrize("offset", [-300, -1, 0, 1, 300])
def test_a_timestamp_within_the_tolerance_is_accepted(
    verifier: ResendWebhookVerifier, offset: int
) -> None:
    body = as_body(DELIVERED)

    assert verifier.parse(headers_for(body, ts=TS + offset), body, NOW).event_id == MSG_ID


def test_the_tolerance_can_be_set() -> None:
    verifier = ResendWebhookVerifier(SECRET, tolerance_seconds=60)
    body = as_body(DELIVERED)

    assert refused(verifier, headers_for(body, ts=TS - 61), body).extra["reason"] == "stale"
    assert verifier.parse(headers_for(body, ts=TS - 60), body, NOW).event_id == MSG_ID
    with pytest.raises(ValueError, match="positive"):
        ResendWebhookVerifier(SECRET, tolerance_seconds=0)


@pytest.mark.parametrize("timestamp", ["soon", "1788264000.5", "-1788264000", "+1788264000"])
def test_a_timestamp_that_is_not_unix_seconds_is_refused(
    verifier: ResendWebhookVerifier, timestamp: str
) -> None:
    body = as_body(DELIVERED)
    headers = {**headers_for(body), "svix-timestamp": timestamp}

    error = refused(verifier, headers, body)

    assert error.extra["reason"] == "timestamp"


def test_now_must_be_timezone_aware(verifier: ResendWebhookVerifier) -> None:
    body = as_body(DELIVERED)

    with pytest.raises(ValueError, match="timezone-aware"):
        verifier.parse(headers_for(body), body, NOW.replace(tzinfo=None))


# -- the headers and the secret --------------------------------------------------------


@pytest.mark.parametrize("name", ["svix-id", "svix-timestamp", "svix-signature"])
def test_a_missing_or_empty_header_is_refused(verifier: ResendWebhookVerifier, name: str) -> None:
    body = as_body(DELIVERED)
    missing = headers_for(body)
    del missing[name]
    empty = {**headers_for(body), name: ""}

    for headers in (missing, empty):
        error = refused(verifier, headers, body)
        assert error.extra == {"provider": "resend", "reason": "missing-header", "header": name}
        assert name in error.detail


def test_no_headers_at_all_is_refused(verifier: ResendWebhookVerifier) -> None:
    assert refused(verifier, {}, as_body(DELIVERED)).extra["reason"] == "missing-header"


@pytest.mark.parametrize(
    "secret",
    [
        base64.b64encode(KEY).decode(),  # without the prefix: base64 all the same
        "whsec_" + base64.b64encode(KEY).decode().rstrip("="),  # padding left off
        f"  {SECRET}\n",  # pasted with blanks around it
    ],
)
def test_the_secret_is_read_as_svix_reads_it(secret: str) -> None:
    body = as_body(DELIVERED)

    event = ResendWebhookVerifier(secret).parse(headers_for(body), body, NOW)

    assert event.event_id == MSG_ID


@pytest.mark.parametrize("secret", ["", "whsec_", "whsec_not base64!", "plain-text-secret"])
def test_a_secret_that_is_not_base64_stops_the_start(secret: str) -> None:
    with pytest.raises(ValueError, match="Resend webhook signing secret") as caught:
        ResendWebhookVerifier(secret)

    assert not secret.strip() or secret not in str(caught.value)


def test_the_verifier_never_shows_its_secret(verifier: ResendWebhookVerifier) -> None:
    assert SECRET.removeprefix("whsec_") not in repr(verifier)


# -- the body --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"",
        b"[]",
        b'"email.delivered"',
        b'{"data": {"email_id": "x"}}',
        b'{"type": "", "data": {}}',
        b'{"type": "email.sent", "created_at": "2026-09-01T12:00:00Z"}',
        b'{"type": "email.sent", "data": ["x"]}',
        b'{"type": "email.sent", "data": {"email_id": 42}}',
        b"\xff\xfe{}",
    ],
)
def test_a_signed_body_we_cannot_read_is_refused(
    verifier: ResendWebhookVerifier, body: bytes
) -> None:
    error = refused(verifier, headers_for(body), body)

    assert error.extra["reason"] == "payload"


EXPECTED_STATUS = {
    "email.sent": DeliveryStatus.SENT,
    "email.delivered": DeliveryStatus.DELIVERED,
    "email.bounced": DeliveryStatus.BOUNCED,
    "email.complained": DeliveryStatus.COMPLAINED,
    "email.failed": DeliveryStatus.FAILED,
    "email.delivery_delayed": None,
    "email.opened": None,
    "email.clicked": None,
    "email.scheduled": None,
    "email.suppressed": DeliveryStatus.FAILED,
    "email.received": None,
    "email.teleported": None,  # a type Resend may add one day
}


@pytest.mark.parametrize(("event_type", "status"), EXPECTED_STATUS.items())
def test_each_event_type_maps_to_its_delivery_state(
    verifier: ResendWebhookVerifier,
    standin: ResendStandin,
    event_type: str,
    status: DeliveryStatus | None,
) -> None:
    at = NOW - timedelta(seconds=2)
    body = standin.webhook_event(EMAIL_ID, event_type, created_at=at)

    event = verifier.parse(headers_for(body), body, NOW)

    assert (event.provider, event.event_id, event.event_type) == ("resend", MSG_ID, event_type)
    assert event.message_id == EMAIL_ID
    assert event.status is status
    assert event.occurred_at == at
    assert event.permanent is (event_type == "email.bounced")


def test_a_failure_says_why(verifier: ResendWebhookVerifier, standin: ResendStandin) -> None:
    body = standin.webhook_event(EMAIL_ID, "email.failed")

    assert verifier.parse(headers_for(body), body, NOW).detail == "reached_daily_quota"


@pytest.mark.parametrize(
    ("bounce_type", "permanent", "detail"),
    [
        (
            "Permanent",
            True,
            "Permanent bounce (General): The recipient's email address does not exist.",
        ),
        ("Transient", False, "Transient bounce (MailboxFull): The recipient's mailbox is full."),
        (
            "Undetermined",
            True,
            "Undetermined bounce (Undetermined):"
            " The receiving server's answer could not be classified.",
        ),
        ("Temporary", False, "Temporary bounce (General): The recipient's email address does not"),
    ],
)
def test_hard_and_soft_bounces_are_told_apart(
    verifier: ResendWebhookVerifier,
    standin: ResendStandin,
    bounce_type: str,
    permanent: bool,
    detail: str,
) -> None:
    body = standin.webhook_event(EMAIL_ID, "email.bounced", bounce_type=bounce_type)

    event = verifier.parse(headers_for(body), body, NOW)

    assert event.status is DeliveryStatus.BOUNCED
    assert event.permanent is permanent
    assert event.detail is not None
    assert event.detail.startswith(detail)


@pytest.mark.parametrize("bounce", [None, {}, "hard", {"type": None, "message": 5}])
def test_a_bounce_without_bounce_details_counts_as_permanent(
    verifier: ResendWebhookVerifier, bounce: Any
) -> None:
    data: dict[str, Any] = {**DELIVERED["data"]}
    if bounce is not None:
        data["bounce"] = bounce
    body = as_body({**DELIVERED, "type": "email.bounced", "data": data})

    event = verifier.parse(headers_for(body), body, NOW)

    assert (event.status, event.permanent, event.detail) == (DeliveryStatus.BOUNCED, True, None)


def test_the_detail_is_kept_short(verifier: ResendWebhookVerifier) -> None:
    data = {**DELIVERED["data"], "bounce": {"type": "Permanent", "message": "x" * 5000}}
    body = as_body({**DELIVERED, "type": "email.bounced", "data": data})

    detail = verifier.parse(headers_for(body), body, NOW).detail

    assert detail is not None
    assert len(detail) == 500


def test_an_unknown_type_is_kept_without_a_state(verifier: ResendWebhookVerifier) -> None:
    body = as_body({**DELIVERED, "type": "email.teleported"})

    event = verifier.parse(headers_for(body), body, NOW)

    assert (event.event_type, event.message_id, event.status) == (
        "email.teleported",
        EMAIL_ID,
        None,
    )


@pytest.mark.parametrize(
    "payload",
    [
        {
            "type": "contact.created",
            "created_at": "2026-09-01T11:59:58.123Z",
            "data": {"id": "e169aa45", "email": "a@example.com", "unsubscribed": False},
        },
        {"type": "email.delivered", "created_at": "2026-09-01T11:59:58.123Z", "data": {}},
    ],
)
def test_an_event_about_no_email_has_no_message_and_no_state(
    verifier: ResendWebhookVerifier, payload: dict[str, Any]
) -> None:
    body = as_body(payload)

    event = verifier.parse(headers_for(body), body, NOW)

    assert (event.event_type, event.message_id, event.status) == (payload["type"], "", None)


@pytest.mark.parametrize(
    ("created_at", "occurred_at"),
    [
        ("2026-09-01T11:59:58.123Z", datetime(2026, 9, 1, 11, 59, 58, 123000, tzinfo=UTC)),
        ("2026-09-01 13:59:58.5+02", datetime(2026, 9, 1, 11, 59, 58, 500000, tzinfo=UTC)),
        ("2026-09-01T11:59:58", datetime(2026, 9, 1, 11, 59, 58, tzinfo=UTC)),  # naive: UTC
        (None, NOW),  # missing: the Svix timestamp
        ("yesterday", NOW),
        (1788263998, NOW),
    ],
)
def test_the_event_time_is_its_created_at_or_else_the_signing_time(
    verifier: ResendWebhookVerifier, created_at: Any, occurred_at: datetime
) -> None:
    payload: dict[str, Any] = {**DELIVERED, "created_at": created_at}
    if created_at is None:
        del payload["created_at"]
    body = as_body(payload)

    event = verifier.parse(headers_for(body), body, NOW)

    assert event.occurred_at == occurred_at
    assert event.occurred_at.utcoffset() == timedelta(0)


# -- the stand-in's webhook bodies -----------------------------------------------------


def test_the_standin_describes_the_email_it_accepted(standin: ResendStandin) -> None:
    email = {
        "from": "Ninefold <no-reply@example.com>",
        "to": "ada@example.com",
        "subject": "Verify your email",
        "text": "Hello",
        "tags": [{"name": "category", "value": "identity-verify_email"}],
        "headers": {"X-Entity-Ref-ID": "del_1"},
    }
    status, answer = standin.handle(
        "/emails", {"authorization": f"Bearer {standin.api_key}"}, as_body(email)
    )
    assert status == 200
    email_id = json.loads(answer)["id"]

    payload = json.loads(standin.webhook_event(email_id, "email.delivered", created_at=NOW))

    assert payload == {
        "type": "email.delivered",
        "created_at": "2026-09-01T12:00:00.000Z",
        "data": {
            "email_id": email_id,
            "created_at": "2026-09-01T12:00:00.000Z",
            "from": "Ninefold <no-reply@example.com>",
            "to": ["ada@example.com"],
            "subject": "Verify your email",
            "tags": {"category": "identity-verify_email"},
            "headers": [{"name": "X-Entity-Ref-ID", "value": "del_1"}],
        },
    }
    assert len(standin.emails) == 1  # describing it records nothing


def test_the_standin_refuses_a_bounce_type_on_another_event(standin: ResendStandin) -> None:
    with pytest.raises(ValueError, match=r"email\.bounced"):
        standin.webhook_event(EMAIL_ID, "email.delivered", bounce_type="Transient")
