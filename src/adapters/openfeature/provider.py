"""``NinefoldProvider``: OpenFeature's provider interface over ``core.safety`` flags.

Install it once per process (``api.set_provider(NinefoldProvider(container.safety.flags()
.evaluate))``); every evaluation then reads the process's current snapshot, so changes
arrive as they do for ``Flags`` (within the poll interval), no restart.

The OpenFeature context maps onto ours: ``targeting_key`` is the user id (unless a
``user_id`` attribute is given); the attributes ``user_id``, ``workspace_id``, ``plan``
and ``environment`` fill those fields; every other attribute is a custom attribute for
constraints. Reasons map as: override and rule → ``TARGETING_MATCH``, rollout → ``SPLIT``,
default → ``DEFAULT``, disabled → ``DISABLED``. An unknown flag answers the caller's
default with ``FLAG_NOT_FOUND``; a value of another type with ``TYPE_MISMATCH``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from openfeature.evaluation_context import EvaluationContext as OpenFeatureContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType
from openfeature.flag_evaluation import Reason as OpenFeatureReason
from openfeature.provider import AbstractProvider, Metadata

from core.safety.flag_eval import Evaluation, EvaluationContext, Reason

T = TypeVar("T")
Evaluate = Callable[[str, EvaluationContext], Evaluation]

_REASONS: dict[Reason, str] = {
    Reason.OVERRIDE: OpenFeatureReason.TARGETING_MATCH,
    Reason.RULE: OpenFeatureReason.TARGETING_MATCH,
    Reason.ROLLOUT: OpenFeatureReason.SPLIT,
    Reason.DEFAULT: OpenFeatureReason.DEFAULT,
    Reason.DISABLED: OpenFeatureReason.DISABLED,
    Reason.NOT_FOUND: OpenFeatureReason.ERROR,
}
_FIELDS = ("user_id", "workspace_id", "plan", "environment")


def to_context(context: OpenFeatureContext | None) -> EvaluationContext:
    """Our evaluation context for an OpenFeature one."""
    if context is None:
        return EvaluationContext()
    attributes: dict[str, Any] = dict(context.attributes)
    fields: dict[str, Any] = {"user_id": context.targeting_key}
    for name in _FIELDS:
        value = attributes.pop(name, None)
        if value is not None:
            fields[name] = str(value)
    return EvaluationContext(**fields, attributes=attributes)


def _is_bool(value: object) -> bool:
    return isinstance(value, bool)


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_float(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_object(value: object) -> bool:
    return isinstance(value, Mapping | list | tuple)


class NinefoldProvider(AbstractProvider):
    """Evaluates with ``evaluate`` (``Flags.evaluate``: the process's snapshot)."""

    def __init__(self, evaluate: Evaluate) -> None:
        super().__init__()
        self._evaluate = evaluate

    def get_metadata(self) -> Metadata:
        return Metadata(name="ninefold")

    def _resolve(
        self,
        key: str,
        default: T,
        context: OpenFeatureContext | None,
        fits: Callable[[object], bool],
        convert: Callable[[Any], T] = lambda value: value,
    ) -> FlagResolutionDetails[T]:
        result = self._evaluate(key, to_context(context))
        if result.reason is Reason.NOT_FOUND:
            return FlagResolutionDetails(
                value=default,
                reason=OpenFeatureReason.ERROR,
                error_code=ErrorCode.FLAG_NOT_FOUND,
                error_message=f"no flag {key!r}",
            )
        if not fits(result.value):
            return FlagResolutionDetails(
                value=default,
                reason=OpenFeatureReason.ERROR,
                error_code=ErrorCode.TYPE_MISMATCH,
                error_message=f"flag {key!r} is a {result.value_type} flag",
            )
        metadata: dict[str, bool | int | float | str] = {"stale": result.stale}
        if result.rule is not None:
            metadata["rule"] = result.rule
        return FlagResolutionDetails(
            value=convert(result.value),
            reason=_REASONS[result.reason],
            variant=result.variant,
            flag_metadata=metadata,
        )

    def resolve_boolean_details(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: OpenFeatureContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        return self._resolve(flag_key, default_value, evaluation_context, _is_bool)

    def resolve_string_details(
        self,
        flag_key: str,
        default_value: str,
        evaluation_context: OpenFeatureContext | None = None,
    ) -> FlagResolutionDetails[str]:
        return self._resolve(flag_key, default_value, evaluation_context, _is_str)

    def resolve_integer_details(
        self,
        flag_key: str,
        default_value: int,
        evaluation_context: OpenFeatureContext | None = None,
    ) -> FlagResolutionDetails[int]:
        return self._resolve(flag_key, default_value, evaluation_context, _is_int)

    def resolve_float_details(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: OpenFeatureContext | None = None,
    ) -> FlagResolutionDetails[float]:
        return self._resolve(flag_key, default_value, evaluation_context, _is_float, float)

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
        evaluation_context: OpenFeatureContext | None = None,
    ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        return self._resolve(flag_key, default_value, evaluation_context, _is_object)
