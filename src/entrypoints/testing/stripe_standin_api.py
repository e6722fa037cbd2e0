"""The API routes of the Stripe stand-in (``entrypoints.testing.stripe_standin``): what
each endpoint checks, changes and answers. ``StripeStandin`` mixes this in; it holds the
objects, the clock and the back office (invoices, payments, events) used here."""

from __future__ import annotations

import copy
from typing import Any

from entrypoints.testing import stripe_standin_objects as shapes
from entrypoints.testing.stripe_standin_rules import StripeError, check_params, flag, integer

Obj = dict[str, Any]
INTERVALS = ("day", "week", "month", "year")
PRORATIONS = ("create_prorations", "none", "always_invoice")
PAYMENT_BEHAVIORS = (
    "allow_incomplete", "default_incomplete", "error_if_incomplete", "pending_if_incomplete",
)  # fmt: skip


class StripeApi:
    """The endpoints (``ROUTES`` in ``stripe_standin_rules`` name these methods). Each takes
    the decoded parameters (and the path's id) and answers the object; a ``StripeError``
    is Stripe's error answer."""

    objects: dict[str, Obj]
    meter_events: dict[str, Obj]
    _checkout: dict[str, Obj]  # what a checkout session was created with
    _pending: dict[str, int]  # prorations owed on a subscription's next invoice

    # Provided by StripeStandin.

    @property
    def url(self) -> str:
        raise NotImplementedError

    @property
    def _ts(self) -> int:
        raise NotImplementedError

    def _emit(self, event_type: str, obj: Obj, previous: Obj | None = None) -> None:
        raise NotImplementedError

    def _invoice(self, subscription: Obj, amount: int, reason: str) -> Obj:
        raise NotImplementedError

    def _pay_invoice(self, invoice: Obj) -> None:
        raise NotImplementedError

    def _end(self, subscription: Obj) -> None:
        raise NotImplementedError

    def _get(self, kind: str, object_id: str, param: str = "id") -> Obj:
        found = self.objects.get(object_id)
        if found is None or found["object"] != kind:
            noun = kind.replace("checkout.session", "checkout session").replace("_", " ")
            raise StripeError(
                404, "invalid_request_error", f"No such {noun}: '{object_id}'",
                code="resource_missing", param=param,
            )  # fmt: skip
        return found

    def _list(self, found: list[Obj], params: Obj, url: str) -> Obj:
        """A page of ``found`` (newest first), as Stripe pages lists."""
        limit = integer(params.get("limit", "10"), "limit", minimum=1)
        if limit > 100:
            raise StripeError.invalid("limit", "Limit must be at most 100.")
        after = params.get("starting_after")
        if after:
            ids = [o["id"] for o in found]
            found = found[ids.index(after) + 1 :] if after in ids else []
        return shapes.listing(found[:limit], has_more=len(found) > limit, url=url)

    def _all(self, kind: str) -> list[Obj]:
        """Every object of a kind, newest first."""
        return [o for o in reversed(self.objects.values()) if o["object"] == kind]

    # Customers, products, prices

    def create_customer(self, params: Obj) -> Obj:
        customer = shapes.customer(self._ts, params)
        self.objects[customer["id"]] = customer
        self._emit("customer.created", customer)
        return customer

    def retrieve_customer(self, params: Obj, customer_id: str) -> Obj:
        return self._get("customer", customer_id)

    def create_product(self, params: Obj) -> Obj:
        if not params.get("name"):
            raise StripeError.missing("name")
        if params.get("id") in self.objects:
            raise StripeError(
                400, "invalid_request_error", "Product already exists.",
                code="resource_already_exists", param="id",
            )  # fmt: skip
        product = shapes.product(
            self._ts, params, active=flag(params.get("active", True), "active")
        )
        self.objects[product["id"]] = product
        self._emit("product.created", product)
        return product

    def retrieve_product(self, params: Obj, product_id: str) -> Obj:
        return self._get("product", product_id)

    def create_price(self, params: Obj) -> Obj:
        for required in ("currency", "product", "unit_amount"):
            if required not in params:
                raise StripeError.missing(required)
        self._get("product", params["product"], "product")
        currency = params["currency"]
        if not (len(currency) == 3 and currency.isalpha() and currency.islower()):
            raise StripeError.invalid("currency", f"Invalid currency: {currency}.")
        recurring = params.get("recurring")
        if recurring is not None:
            check_params(recurring, {"interval", "interval_count"}, "recurring")
            if recurring.get("interval") not in INTERVALS:
                raise StripeError.invalid("recurring[interval]", "Invalid recurring interval.")
        transfer = flag(params.get("transfer_lookup_key", False), "transfer_lookup_key")
        self._claim_lookup_key(params.get("lookup_key") or None, transfer=transfer)
        price = shapes.price(
            self._ts,
            params,
            amount=integer(params["unit_amount"], "unit_amount", minimum=0),
            active=flag(params.get("active", True), "active"),
            interval_count=integer((recurring or {}).get("interval_count", 1), "interval_count"),
        )
        self.objects[price["id"]] = price
        self._emit("price.created", price)
        return price

    def _claim_lookup_key(self, key: str | None, *, transfer: bool) -> None:
        holder = next((p for p in self._all("price") if key and p["lookup_key"] == key), None)
        if holder is None:
            return
        if not transfer:
            raise StripeError.invalid(
                "lookup_key",
                f"A price (`{holder['id']}`) already uses that lookup key. Set"
                " `transfer_lookup_key` to move it to this price.",
            )
        holder["lookup_key"] = None

    def list_prices(self, params: Obj) -> Obj:
        keys = params.get("lookup_keys")
        active = flag(params["active"], "active") if "active" in params else None
        found = [
            p
            for p in self._all("price")
            if (keys is None or p["lookup_key"] in keys)
            and (active is None or p["active"] == active)
            and params.get("product", p["product"]) == p["product"]
        ]
        return self._list(found, params, "/v1/prices")

    def retrieve_price(self, params: Obj, price_id: str) -> Obj:
        return self._get("price", price_id)

    def update_price(self, params: Obj, price_id: str) -> Obj:
        price = self._get("price", price_id)
        if "lookup_key" in params:
            transfer = flag(params.get("transfer_lookup_key", False), "transfer_lookup_key")
            self._claim_lookup_key(params["lookup_key"] or None, transfer=transfer)
            price["lookup_key"] = params["lookup_key"] or None
        if "active" in params:
            price["active"] = flag(params["active"], "active")
        if "nickname" in params:
            price["nickname"] = params["nickname"] or None
        price["metadata"].update(params.get("metadata") or {})
        self._emit("price.updated", price)
        return price

    # Checkout and the portal

    def create_checkout_session(self, params: Obj) -> Obj:
        mode = params.get("mode")
        if mode not in ("payment", "subscription"):
            raise StripeError.invalid("mode", "Invalid mode: must be payment or subscription.")
        if not params.get("success_url"):
            raise StripeError.missing("success_url")
        customer = self._get("customer", params.get("customer", ""), "customer")
        items = params.get("line_items")
        if not isinstance(items, list) or len(items) != 1:
            raise StripeError.invalid("line_items", "The stand-in takes exactly one line item.")
        check_params(items[0], {"price", "quantity"}, "line_items[0]")
        price = self._get("price", items[0].get("price", ""), "line_items[0][price]")
        if not price["active"]:
            raise StripeError.invalid(
                "line_items[0][price]", f"The price `{price['id']}` is not active."
            )
        quantity = integer(items[0].get("quantity", 1), "line_items[0][quantity]", minimum=1)
        if (mode == "subscription") != (price["type"] == "recurring"):
            raise StripeError.invalid(
                "line_items[0][price]",
                "`subscription` mode takes recurring prices and `payment` mode one-time"
                f" prices; `{price['id']}` is {price['type']}.",
            )
        subscription_data = params.get("subscription_data") or {}
        intent_data = params.get("payment_intent_data") or {}
        if subscription_data and mode != "subscription":
            raise StripeError.invalid(
                "subscription_data", "You can only pass `subscription_data` in subscription mode."
            )
        if intent_data and mode != "payment":
            raise StripeError.invalid(
                "payment_intent_data", "You can only pass `payment_intent_data` in payment mode."
            )
        check_params(subscription_data, {"metadata", "trial_period_days"}, "subscription_data")
        check_params(intent_data, {"metadata", "description"}, "payment_intent_data")
        trial = subscription_data.get("trial_period_days")
        session = shapes.checkout_session(
            self._ts,
            self.url,
            params,
            customer_id=customer["id"],
            amount=price["unit_amount"] * quantity,
            currency=price["currency"],
        )
        self.objects[session["id"]] = session
        self._checkout[session["id"]] = {
            "price": price["id"],
            "quantity": quantity,
            "trial_period_days": 0
            if trial is None
            else integer(trial, "subscription_data[trial_period_days]", minimum=1),
            "subscription_metadata": dict(subscription_data.get("metadata") or {}),
            "payment_intent_metadata": dict(intent_data.get("metadata") or {}),
        }
        return session

    def retrieve_checkout_session(self, params: Obj, session_id: str) -> Obj:
        return self._get("checkout.session", session_id)

    def create_portal_session(self, params: Obj) -> Obj:
        customer = self._get("customer", params.get("customer", ""), "customer")
        return shapes.portal_session(
            self._ts, self.url, customer_id=customer["id"], return_url=params.get("return_url")
        )

    # Subscriptions

    def retrieve_subscription(self, params: Obj, sub_id: str) -> Obj:
        return self._get("subscription", sub_id)

    def update_subscription(self, params: Obj, sub_id: str) -> Obj:
        subscription = self._get("subscription", sub_id)
        if subscription["status"] in ("canceled", "incomplete_expired"):
            raise StripeError.invalid(
                None,
                "A canceled subscription can only update its cancellation_details and metadata.",
            )
        proration = params.get("proration_behavior", "create_prorations")
        if proration not in PRORATIONS:
            raise StripeError.invalid("proration_behavior", f"Invalid value: {proration}")
        behavior = params.get("payment_behavior", "allow_incomplete")
        if behavior not in PAYMENT_BEHAVIORS:
            raise StripeError.invalid("payment_behavior", f"Invalid value: {behavior}")
        if behavior == "pending_if_incomplete" and {"metadata", "cancel_at_period_end"} & set(
            params
        ):
            raise StripeError.invalid(
                "payment_behavior",
                "`pending_if_incomplete` cannot be used with `metadata` or `cancel_at_period_end`.",
            )
        previous: Obj = {}
        item = subscription["items"]["data"][0]
        old_total = item["price"]["unit_amount"] * item["quantity"]
        for index, change in enumerate(params.get("items") or []):
            self._change_item(subscription, item, index, change, previous)
        if "cancel_at_period_end" in params:
            wanted = flag(params["cancel_at_period_end"], "cancel_at_period_end")
            if wanted != subscription["cancel_at_period_end"]:
                previous["cancel_at_period_end"] = subscription["cancel_at_period_end"]
                subscription["cancel_at_period_end"] = wanted
                subscription["cancel_at"] = item["current_period_end"] if wanted else None
                subscription["canceled_at"] = self._ts if wanted else None
        if params.get("metadata"):
            previous["metadata"] = dict(subscription["metadata"])
            subscription["metadata"].update(params["metadata"])
        new_total = item["price"]["unit_amount"] * item["quantity"]
        if "items" in previous and new_total != old_total and proration != "none":
            self._prorate(subscription, item, new_total - old_total, proration)
        if previous:
            self._emit("customer.subscription.updated", subscription, previous)
        return subscription

    def _change_item(
        self, subscription: Obj, item: Obj, index: int, change: Obj, previous: Obj
    ) -> None:
        where = f"items[{index}]"
        check_params(change, {"id", "price", "quantity", "metadata"}, where)
        if change.get("id", item["id"]) != item["id"]:
            raise StripeError(
                404, "invalid_request_error", f"No such subscription item: '{change['id']}'",
                code="resource_missing", param=f"{where}[id]",
            )  # fmt: skip
        previous.setdefault("items", copy.deepcopy(subscription["items"]))
        if "price" in change:
            price = self._get("price", change["price"], f"{where}[price]")
            if price["type"] != "recurring" or price["currency"] != subscription["currency"]:
                raise StripeError.invalid(
                    f"{where}[price]",
                    "The price must be recurring, in the subscription's currency.",
                )
            item["price"] = copy.deepcopy(price)
        if "quantity" in change:
            item["quantity"] = integer(change["quantity"], f"{where}[quantity]", minimum=0)

    def _prorate(self, subscription: Obj, item: Obj, difference: int, proration: str) -> None:
        """The change's price for the rest of the period: invoiced and paid now
        (``always_invoice``), or owed on the next invoice (``create_prorations``)."""
        start, end = item["current_period_start"], item["current_period_end"]
        owed = round(difference * max(0, end - self._ts) / max(1, end - start))
        if proration == "always_invoice" and owed > 0:
            self._pay_invoice(self._invoice(subscription, owed, "subscription_update"))
        elif proration == "create_prorations":
            self._pending[subscription["id"]] = self._pending.get(subscription["id"], 0) + owed

    def cancel_subscription(self, params: Obj, sub_id: str) -> Obj:
        subscription = self._get("subscription", sub_id)
        if subscription["status"] == "canceled":
            raise StripeError.invalid(None, "This subscription has already been canceled.")
        subscription["canceled_at"] = self._ts
        self._end(subscription)
        return subscription

    # Invoices and usage

    def list_invoices(self, params: Obj) -> Obj:
        found = [
            i
            for i in self._all("invoice")
            if params.get("customer", i["customer"]) == i["customer"]
            and params.get("status", i["status"]) == i["status"]
            and params.get("subscription", _subscription_of(i)) == _subscription_of(i)
        ]
        return self._list(found, params, "/v1/invoices")

    def retrieve_invoice(self, params: Obj, invoice_id: str) -> Obj:
        return self._get("invoice", invoice_id)

    def create_meter_event(self, params: Obj) -> Obj:
        """Counted once per ``identifier``: a repeat answers the first event."""
        name = params.get("event_name")
        payload = params.get("payload")
        if not name:
            raise StripeError.missing("event_name")
        if not isinstance(payload, dict) or not payload.get("stripe_customer_id"):
            raise StripeError.missing("payload[stripe_customer_id]")
        integer(payload.get("value"), "payload[value]")
        timestamp = integer(params.get("timestamp", self._ts), "timestamp")
        if not self._ts - 35 * 86_400 <= timestamp <= self._ts + 300:
            raise StripeError.invalid(
                "timestamp",
                "Timestamp must be within the past 35 calendar days or up to 5 minutes in the"
                " future.",
            )
        identifier = params.get("identifier") or shapes.new_id("mev_", 20)
        if len(identifier) > 100:
            raise StripeError.invalid("identifier", "The identifier is longer than 100 characters.")
        return self.meter_events.setdefault(
            identifier,
            shapes.meter_event(
                self._ts, name=name, identifier=identifier, payload=payload, timestamp=timestamp
            ),
        )


def _subscription_of(invoice: Obj) -> str | None:
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    found: str | None = details.get("subscription")
    return found
