"""An OpenFeature provider over our flags: code written against the ``openfeature-sdk``
API (``api.get_client().get_boolean_value(...)``) evaluates ninefold's flags in-process."""

from adapters.openfeature.provider import NinefoldProvider, to_context

__all__ = ["NinefoldProvider", "to_context"]
