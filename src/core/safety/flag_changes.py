"""Building changes to flags, pure: the reason every change needs, a patch applied to a
flag, and the change that turns a flag on or off in one environment."""

from __future__ import annotations

from typing import Any

import msgspec

from core.safety.flag_events import REASON_MAX, FlagPatch, FlagReasonRequiredError
from core.safety.flags import Flag, Rule, ValueType


def check_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise FlagReasonRequiredError("say why you make this change (a reason is required)")
    if len(reason) > REASON_MAX:
        raise FlagReasonRequiredError(f"a reason is at most {REASON_MAX} characters")
    return reason


def apply_patch(flag: Flag, patch: FlagPatch) -> Flag:
    changes = {
        name: value
        for name in patch.__struct_fields__
        if (value := getattr(patch, name)) is not msgspec.UNSET and name != "environments"
    }
    if patch.environments is not msgspec.UNSET:
        changes["environments"] = {**flag.environments, **patch.environments}
    return msgspec.structs.replace(flag, **changes)


def environment_change(
    flag: Flag,
    environment: str,
    *,
    enabled: bool | None = None,
    rollout: int | None = None,
    default_variant: str | None = None,
) -> FlagPatch:
    """The change that turns ``flag`` on or off in ``environment``, sets its first rule's
    rollout or its default variant. As Unleash adds its default strategy, a rule for
    everyone is added when a boolean flag without rules or default is turned on or given
    a rollout: enabling it then means on (for that percentage)."""
    config = flag.environment(environment)
    changes: dict[str, Any] = {}
    if enabled is not None:
        changes["enabled"] = enabled
    if default_variant is not None:
        changes["default_variant"] = default_variant
    rules = list(config.rules)
    bare = not rules and config.default_variant is None and default_variant is None
    if (enabled or rollout is not None) and bare and flag.value_type is ValueType.BOOLEAN:
        rules = [Rule(name="everyone")]
    if rollout is not None:
        rules = rules or [Rule(name="everyone")]
        rules[0] = msgspec.structs.replace(rules[0], rollout=rollout)
    if rules != list(config.rules):
        changes["rules"] = tuple(rules)
    return FlagPatch(environments={environment: msgspec.structs.replace(config, **changes)})
