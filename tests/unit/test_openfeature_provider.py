"""Code written against the OpenFeature SDK evaluates our flags, targeting included,
through ``NinefoldProvider``; changes to the snapshot are seen at the next call."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from adapters.openfeature import NinefoldProvider, to_context
from core.safety.flag_eval import Flags, FlagSet
from core.safety.flags import (
    Constraint,
    EnvironmentConfig,
    Flag,
    Operator,
    Override,
    Rule,
    ValueType,
    Variant,
    with_default_variants,
)

ENV = "production"
PRO = Constraint(attribute="plan", operator=Operator.IN, values=("pro",))
BETA = Constraint(attribute="beta", operator=Operator.EQUALS, values=("true",))


def flags() -> list[Flag]:
    return [
        with_default_variants(
            Flag(
                key="new-checkout",
                environments={
                    ENV: EnvironmentConfig(
                        enabled=True,
                        overrides=(Override(values=("usr_vip",), variant="on"),),
                        rules=(Rule(constraints=(PRO,)), Rule(constraints=(BETA,), rollout=50)),
                    )
                },
            )
        ),
        Flag(
            key="banner",
            value_type=ValueType.STRING,
            variants=(Variant(key="plain", value="Hi"), Variant(key="pro", value="Hi, Pro")),
            off_variant="plain",
            environments={
                ENV: EnvironmentConfig(
                    enabled=True,
                    default_variant="plain",
                    rules=(Rule(constraints=(PRO,), variant="pro"),),
                )
            },
        ),
        Flag(
            key="upload-limit",
            value_type=ValueType.NUMBER,
            variants=(Variant(key="small", value=10), Variant(key="big", value=250)),
            off_variant="small",
            environments={ENV: EnvironmentConfig(enabled=True, default_variant="big")},
        ),
        Flag(
            key="theme",
            value_type=ValueType.JSON,
            variants=(Variant(key="a", value={"accent": "teal", "dense": False}),),
            off_variant="a",
            environments={ENV: EnvironmentConfig(enabled=True, default_variant="a")},
        ),
    ]


@pytest.fixture
def snapshot() -> dict[str, FlagSet]:
    return {"current": FlagSet(flags(), [])}


@pytest.fixture
def client(snapshot: dict[str, FlagSet]) -> Iterator[OpenFeatureClient]:
    reader = Flags(lambda: snapshot["current"], ENV)
    api.set_provider(NinefoldProvider(reader.evaluate), domain="ninefold-tests")
    yield api.get_client("ninefold-tests")
    api.clear_providers()


def test_a_boolean_flag_follows_its_targeting(client: OpenFeatureClient) -> None:
    pro = EvaluationContext(targeting_key="usr_1", attributes={"plan": "pro"})
    free = EvaluationContext(targeting_key="usr_1", attributes={"plan": "free"})
    vip = EvaluationContext(targeting_key="usr_vip")

    assert client.get_boolean_value("new-checkout", False, pro) is True
    assert client.get_boolean_value("new-checkout", True, free) is False
    details = client.get_boolean_details("new-checkout", False, vip)
    assert (details.value, details.reason, details.variant) == (True, Reason.TARGETING_MATCH, "on")


def test_a_rollout_is_a_split_and_sticky(client: OpenFeatureClient) -> None:
    reasons = set()
    for n in range(40):
        context = EvaluationContext(targeting_key=f"usr_{n}", attributes={"beta": True})
        first = client.get_boolean_details("new-checkout", False, context)
        assert client.get_boolean_value("new-checkout", False, context) is first.value
        reasons.add(first.reason)

    assert reasons == {Reason.SPLIT, Reason.DEFAULT}


def test_string_number_and_object_flags(client: OpenFeatureClient) -> None:
    pro = EvaluationContext(targeting_key="usr_1", attributes={"plan": "pro"})

    assert client.get_string_value("banner", "?", pro) == "Hi, Pro"
    assert client.get_string_value("banner", "?") == "Hi"
    assert client.get_integer_value("upload-limit", 1) == 250
    assert client.get_float_value("upload-limit", 1.0) == 250.0
    assert client.get_object_value("theme", {}) == {"accent": "teal", "dense": False}


def test_an_unknown_flag_or_another_type_answers_the_default_with_the_error(
    client: OpenFeatureClient,
) -> None:
    missing = client.get_boolean_details("nope", True)
    mismatch = client.get_boolean_details("banner", True)

    assert (missing.value, missing.error_code) == (True, ErrorCode.FLAG_NOT_FOUND)
    assert (mismatch.value, mismatch.error_code) == (True, ErrorCode.TYPE_MISMATCH)


def test_a_new_snapshot_is_seen_at_the_next_evaluation(
    client: OpenFeatureClient, snapshot: dict[str, FlagSet]
) -> None:
    assert client.get_integer_value("upload-limit", 1) == 250

    snapshot["current"] = FlagSet([f for f in flags() if f.key != "upload-limit"], [])

    assert client.get_integer_value("upload-limit", 1) == 1


def test_the_context_maps_onto_ours() -> None:
    context = to_context(
        EvaluationContext(
            targeting_key="usr_1",
            attributes={"workspace_id": "ws_1", "plan": "pro", "country": "FR"},
        )
    )

    assert (context.user_id, context.workspace_id, context.plan) == ("usr_1", "ws_1", "pro")
    assert context.attributes == {"country": "FR"}
