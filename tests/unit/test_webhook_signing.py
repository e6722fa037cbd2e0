"""Deliveries are signed per Standard Webhooks, and the verifier accepts exactly those."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from core.workflows.webhook_signing import (
    WebhookVerificationError,
    generate_secret,
    message_id,
    sign,
    signed_headers,
    verify,
)

# The reference vector of the Standard Webhooks specification.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
SENT_AT = datetime.fromtimestamp(TIMESTAMP, UTC)


def test_the_signature_matches_the_specifications_reference_vector() -> None:
    assert sign(SECRET, MSG_ID, TIMESTAMP, BODY) == SIGNATURE


def test_the_headers_carry_the_id_the_timestamp_and_the_signature() -> None:
    assert signed_headers([SECRET], MSG_ID, TIMESTAMP, BODY) == {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(TIMESTAMP),
        "webhook-signature": SIGNATURE,
    }


def test_the_verifier_accepts_the_reference_delivery() -> None:
    headers = {"Webhook-Id": MSG_ID, "Webhook-Timestamp": str(TIMESTAMP)}
    headers["Webhook-Signature"] = SIGNATURE

    verify(SECRET, headers, BODY, now=SENT_AT + timedelta(seconds=30))


def test_during_a_rotation_each_secret_signs_and_either_verifies() -> None:
    new = generate_secret()
    headers = signed_headers([new, SECRET], MSG_ID, TIMESTAMP, BODY)

    assert headers["webhook-signature"] == f"{sign(new, MSG_ID, TIMESTAMP, BODY)} {SIGNATURE}"
    verify(new, headers, BODY, now=SENT_AT)
    verify(SECRET, headers, BODY, now=SENT_AT)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"body": b'{"test": 2432232315}'}, "no signature matches"),
        ({"secret": generate_secret()}, "no signature matches"),
        ({"now": SENT_AT + timedelta(minutes=6)}, "too far"),
        ({"now": SENT_AT - timedelta(minutes=6)}, "too far"),
        ({"headers": {"webhook-id": MSG_ID}}, "missing the webhook-timestamp header"),
        (
            {"headers": {"webhook-id": "msg_other", "webhook-timestamp": str(TIMESTAMP)}},
            "missing the webhook-signature header",
        ),
    ],
)
def test_the_verifier_refuses_a_changed_body_another_secret_old_or_incomplete_headers(
    change: dict[str, object], reason: str
) -> None:
    arguments: dict[str, object] = {
        "secret": SECRET,
        "headers": signed_headers([SECRET], MSG_ID, TIMESTAMP, BODY),
        "body": BODY,
        "now": SENT_AT,
    }
    arguments.update(change)

    with pytest.raises(WebhookVerificationError, match=reason):
        verify(
            str(arguments["secret"]),
            arguments["headers"],  # type: ignore[arg-type]
            arguments["body"],  # type: ignore[arg-type]
            now=arguments["now"],  # type: ignore[arg-type]
        )


def test_a_signature_of_another_version_is_ignored() -> None:
    headers = signed_headers([SECRET], MSG_ID, TIMESTAMP, BODY)
    headers["webhook-signature"] = headers["webhook-signature"].replace("v1,", "v1a,")

    with pytest.raises(WebhookVerificationError):
        verify(SECRET, headers, BODY, now=SENT_AT)


def test_a_new_secret_is_whsec_and_24_random_bytes_in_base64() -> None:
    secret = generate_secret()

    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 24
    assert generate_secret() != secret


def test_the_message_id_is_stable_per_event_and_endpoint_and_differs_between_them() -> None:
    event = "evt_01jbqc5k7rhz3v2x6n8m4p9t0w"

    first = message_id(event, "whe_01jbqc5k7rhz3v2x6n8m4p9aaa")

    assert first == message_id(event, "whe_01jbqc5k7rhz3v2x6n8m4p9aaa")
    assert first != message_id(event, "whe_01jbqc5k7rhz3v2x6n8m4p9bbb")
    assert first.startswith("msg_01jbqc5k7r")  # the event's time part: ids sort by time
    assert len(first) == len("msg_") + 26
