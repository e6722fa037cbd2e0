"""The sandbox payment processor's pages: its hosted checkout, its customer portal and
its invoices (``adapters.sandbox``; docs/providers/sandbox.md).

- ``GET /billing/sandbox/checkout/{session_id}``: what is bought, for how much, and two
  buttons: *Pay* and *Decline* (forms that POST ``…/pay`` and ``…/decline``, answered
  with ``303 See Other`` to the checkout's success or cancel URL). A paid, declined or
  expired session shows its state instead.
- ``GET /billing/sandbox/portal/{customer_id}``: the customer's subscriptions, invoices
  and card, with a button that makes the card work or decline
  (``POST …/card/works`` or ``…/card/declines``, then back to the portal).
- ``GET /billing/sandbox/invoices/{invoice_id}``: an invoice (the hosted invoice and
  its "PDF").

No sign-in: like a provider's hosted pages, the unguessable id in the URL (128 random
bits) is the capability, so there is no session and no CSRF token to check (the app
checks CSRF only for requests signed in by cookie). The pages are server-rendered with
``html.escape`` and use no external asset (the app's CSP allows none). They answer 404
unless the sandbox is the selected payment provider, and are left out of the OpenAPI
document. The form posts redirect to the checkout's own URLs: when they are on another
origin than the app, a browser enforcing the app's ``form-action 'self'`` may stop at
the redirect (the sandbox is for development, where they are the app's).
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Annotated, Any, Final

from litestar import Controller, Response, get, post
from litestar.datastructures import State
from litestar.enums import MediaType
from litestar.exceptions import NotFoundException
from litestar.params import PathParameter
from litestar.response import Redirect

from adapters.sandbox import (
    CheckoutStatus,
    CheckoutView,
    CustomerView,
    InvoiceView,
    SandboxPaymentProvider,
)
from core.billing.errors import PaymentProviderRejectedError
from entrypoints.http.dependencies import container_of

Id = Annotated[str, PathParameter(min_length=1, max_length=100)]
ZERO_DECIMAL: Final = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "ISK",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
_HEADERS: Final = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 36rem; margin: 3rem auto;
  padding: 0 1rem; line-height: 1.5; color: #1f2328; }}
.banner {{ background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px;
  padding: .4rem .8rem; font-size: .85rem; }}
h1 {{ font-size: 1.4rem; }} h2 {{ font-size: 1.1rem; margin-top: 2rem; }}
table {{ width: 100%; border-collapse: collapse; }}
td, th {{ text-align: left; padding: .3rem .2rem; border-bottom: 1px solid #d0d7de; }}
td.num, th.num {{ text-align: right; }}
.total {{ font-size: 1.6rem; font-weight: 600; }}
.muted {{ color: #59636e; font-size: .9rem; }}
form {{ display: inline; }}
button {{ font-size: 1rem; padding: .5rem 1.2rem; border-radius: 6px; cursor: pointer;
  border: 1px solid #d0d7de; background: #f6f8fa; margin-right: .5rem; }}
button.primary {{ background: #1f883d; border-color: #1f883d; color: #fff; }}
</style></head>
<body>
<p class="banner">Sandbox payment processor: no real money moves. For development and
tests only.</p>
<h1>{title}</h1>
{body}
</body></html>"""


def money(amount: int, currency: str) -> str:
    """Minor units as a person reads them: ``4,500`` USD is ``45.00 USD``."""
    if currency.upper() in ZERO_DECIMAL:
        return f"{amount:,} {currency}"
    sign, amount = ("-", -amount) if amount < 0 else ("", amount)
    return f"{sign}{amount // 100:,}.{amount % 100:02d} {currency}"


def day(at: datetime | None) -> str:
    return "-" if at is None else at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _page(title: str, body: str, status: int = 200) -> Response[str]:
    return Response(
        _PAGE.format(title=escape(title), body=body),
        media_type=MediaType.HTML,
        status_code=status,
        headers=_HEADERS,
    )


def _sandbox(state: State) -> SandboxPaymentProvider:
    provider = container_of(state).billing.payment_provider()
    if not isinstance(provider, SandboxPaymentProvider):
        raise NotFoundException("the sandbox payment provider is not in use")
    return provider


def _rows(pairs: list[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in pairs)
    return f"<table>{cells}</table>"


def _button(action: str, label: str, *, primary: bool = False) -> str:
    kind = ' class="primary"' if primary else ""
    return (
        f'<form method="post" action="{escape(action)}">'
        f'<button type="submit"{kind}>{escape(label)}</button></form>'
    )


def checkout_body(view: CheckoutView) -> str:
    what = escape(view.product_name)
    per = f" per {escape(view.interval)}" if view.interval else ""
    pairs = [
        (
            "Product",
            what
            + (
                f"<br><span class=muted>{escape(view.description)}</span>"
                if view.description
                else ""
            ),
        ),
        ("Price", f"{escape(money(view.unit_amount, view.currency))}{per}"),
        ("Quantity", str(view.quantity)),
        (
            "Customer",
            escape(view.customer_name)
            + (f" &lt;{escape(view.customer_email)}&gt;" if view.customer_email else ""),
        ),
    ]
    if view.trial_days:
        pairs.append(("Trial", f"{view.trial_days} days free, then charged"))
    due = f'<p class="total">{escape(money(view.amount, view.currency))} due today</p>'
    if view.status is not CheckoutStatus.OPEN:
        back = view.success_url if view.status is CheckoutStatus.PAID else view.cancel_url
        return (
            _rows(pairs)
            + f"<p>This checkout is <strong>{escape(view.status.value)}</strong>.</p>"
            + f'<p><a href="{escape(back)}">Return to the application</a></p>'
        )
    base = f"/billing/sandbox/checkout/{view.id}"
    return (
        _rows(pairs)
        + due
        + f'<p class="muted">Open until {escape(day(view.expires_at))}.</p>'
        + _button(f"{base}/pay", "Pay", primary=True)
        + _button(f"{base}/decline", "Decline")
    )


def invoice_body(view: InvoiceView) -> str:
    lines = "".join(
        f"<tr><td>{escape(line.description)}</td><td class=num>{line.quantity}</td>"
        f"<td class=num>{escape(money(line.unit_amount, view.currency))}</td>"
        f"<td class=num>{escape(money(line.amount, view.currency))}</td></tr>"
        for line in view.lines
    )
    period = (
        f"{escape(day(view.period_start))} to {escape(day(view.period_end))}"
        if view.period_start
        else "-"
    )
    return (
        _rows(
            [
                ("Number", escape(view.number)),
                ("Status", f"<strong>{escape(view.status.value)}</strong>"),
                ("Billed to", escape(view.customer_name)),
                ("Issued", escape(day(view.issued_at))),
                ("Period", period),
                ("Paid", escape(day(view.paid_at))),
            ]
        )
        + "<h2>Lines</h2><table><tr><th>Description</th><th class=num>Qty</th>"
        "<th class=num>Unit</th><th class=num>Amount</th></tr>"
        + lines
        + "</table>"
        + _rows(
            [
                ("Total", escape(money(view.total, view.currency))),
                ("Paid", escape(money(view.amount_paid, view.currency))),
                ("Due", escape(money(view.amount_due, view.currency))),
            ]
        )
        + f'<p class="muted"><a href="/billing/sandbox/portal/{escape(view.customer_id)}">'
        "All invoices</a></p>"
    )


def portal_body(view: CustomerView) -> str:
    card = "works" if view.card_works else "declines"
    toggle = "declines" if view.card_works else "works"
    body = (
        _rows(
            [
                ("Customer", escape(view.name)),
                ("Email", escape(view.email or "-")),
                ("Workspace", escape(view.workspace_id)),
                ("Card", f"<strong>{card}</strong>"),
            ]
        )
        + "<p>"
        + _button(
            f"/billing/sandbox/portal/{view.id}/card/{toggle}",
            "Make the card " + ("decline" if view.card_works else "work"),
        )
        + "</p><h2>Subscriptions</h2>"
    )
    if not view.subscriptions:
        body += "<p class=muted>None.</p>"
    for sub in view.subscriptions:
        notes = []
        if sub.cancel_at_period_end:
            notes.append("ends at the period's end")
        if sub.past_due_since:
            notes.append(f"past due since {day(sub.past_due_since)}")
        if sub.next_retry_at:
            notes.append(f"next retry {day(sub.next_retry_at)}")
        body += _rows(
            [
                ("Plan", escape(f"{sub.product_name} x {sub.quantity}")),
                (
                    "Status",
                    f"<strong>{escape(sub.status.value)}</strong>"
                    + (f" ({escape('; '.join(notes))})" if notes else ""),
                ),
                (
                    "Amount",
                    escape(money(sub.amount, sub.currency))
                    + (f" per {escape(sub.interval)}" if sub.interval else ""),
                ),
                (
                    "Period",
                    escape(f"{day(sub.current_period_start)} to {day(sub.current_period_end)}"),
                ),
            ]
        )
    body += "<h2>Invoices</h2>"
    if not view.invoices:
        body += "<p class=muted>None.</p>"
    else:
        body += (
            "<table><tr><th>Number</th><th>Issued</th><th>Status</th><th class=num>Total</th></tr>"
        )
        body += "".join(
            f'<tr><td><a href="/billing/sandbox/invoices/{escape(i.id)}">{escape(i.number)}</a>'
            f"</td><td>{escape(day(i.issued_at))}</td><td>{escape(i.status.value)}</td>"
            f"<td class=num>{escape(money(i.total, i.currency))}</td></tr>"
            for i in view.invoices
        )
        body += "</table>"
    if view.usage:
        body += "<h2>Usage reported</h2>" + _rows(
            [(meter, str(total)) for meter, total in sorted(view.usage.items())]
        )
    return body


class SandboxCheckoutController(Controller):
    path = "/billing/sandbox"
    include_in_schema = False

    @get("/checkout/{session_id:str}", media_type=MediaType.HTML)
    async def checkout(self, state: State, session_id: Id) -> Response[str]:
        view = await _sandbox(state).checkout_view(session_id)
        if view is None:
            return _page("No such checkout", "<p>This checkout does not exist.</p>", 404)
        return _page(f"Checkout: {view.product_name}", checkout_body(view))

    @post("/checkout/{session_id:str}/pay", status_code=303)
    async def pay(self, state: State, session_id: Id) -> Response[Any]:
        return await self._finish(state, session_id, pay=True)

    @post("/checkout/{session_id:str}/decline", status_code=303)
    async def decline(self, state: State, session_id: Id) -> Response[Any]:
        return await self._finish(state, session_id, pay=False)

    async def _finish(self, state: State, session_id: str, *, pay: bool) -> Response[Any]:
        sandbox = _sandbox(state)
        view = await sandbox.checkout_view(session_id)
        if view is None:
            return _page("No such checkout", "<p>This checkout does not exist.</p>", 404)
        try:
            target = await (sandbox.pay(session_id) if pay else sandbox.decline(session_id))
        except PaymentProviderRejectedError:
            view = await sandbox.checkout_view(session_id) or view
            return _page(f"Checkout: {view.product_name}", checkout_body(view), 409)
        return Redirect(target, status_code=303, headers=_HEADERS)

    @get("/portal/{customer_id:str}", media_type=MediaType.HTML)
    async def portal(self, state: State, customer_id: Id) -> Response[str]:
        view = await _sandbox(state).customer_view(customer_id)
        if view is None or view.id != customer_id:
            return _page("No such customer", "<p>This customer does not exist.</p>", 404)
        return _page("Billing portal", portal_body(view))

    @post("/portal/{customer_id:str}/card/{card:str}", status_code=303)
    async def set_card(self, state: State, customer_id: Id, card: Id) -> Response[Any]:
        sandbox = _sandbox(state)
        view = await sandbox.customer_view(customer_id)
        if view is None or view.id != customer_id or card not in {"works", "declines"}:
            return _page("No such customer", "<p>This customer does not exist.</p>", 404)
        await sandbox.set_card(customer_id, works=card == "works")
        return Redirect(f"/billing/sandbox/portal/{customer_id}", status_code=303, headers=_HEADERS)

    @get("/invoices/{invoice_id:str}", media_type=MediaType.HTML)
    async def invoice(self, state: State, invoice_id: Id) -> Response[str]:
        view = await _sandbox(state).invoice_view(invoice_id)
        if view is None:
            return _page("No such invoice", "<p>This invoice does not exist.</p>", 404)
        return _page(f"Invoice {view.number}", invoice_body(view))
