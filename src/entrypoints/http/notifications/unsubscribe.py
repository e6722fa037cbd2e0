"""One-click unsubscribe (RFC 8058), without signing in.

Emails of types a person may opt out of carry ``List-Unsubscribe: <…?token=…>`` and
``List-Unsubscribe-Post: List-Unsubscribe=One-Click``: a mail client POSTs to the link,
which turns the email channel of that category off. Opening the link in a browser
(``GET``) only shows a page with a button that POSTs: link scanners and prefetchers
fetch links, and must not unsubscribe anyone. The token, signed with the secret key,
names the person, the category and the channel (core/notifications/unsubscribe.py).
"""

from __future__ import annotations

from html import escape
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.enums import MediaType
from litestar.params import Parameter

from adapters.sql.uow import SqlUnitOfWork
from core.notifications import (
    InvalidUnsubscribeTokenError,
    PreferenceChoice,
    PreferenceService,
    Unsubscribe,
    UnsubscribeTokens,
)
from core.notifications.unsubscribe import TOKEN_MAX_LENGTH
from entrypoints.http.dependencies import container_of

Uow = NamedDependency[SqlUnitOfWork]
Token = Annotated[str, Parameter(min_length=1, max_length=TOKEN_MAX_LENGTH)]

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{title}</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 4rem auto;
padding: 0 1rem; line-height: 1.5">
<h1 style="font-size: 1.4rem">{title}</h1>
{body}
</body></html>"""


class Unsubscribed(msgspec.Struct):
    unsubscribed: bool
    category: str
    channel: str


def _page(title: str, body: str, status: int = 200) -> Response[str]:
    return Response(
        _PAGE.format(title=escape(title), body=body),
        media_type=MediaType.HTML,
        status_code=status,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def _tokens(state: State) -> UnsubscribeTokens:
    tokens: UnsubscribeTokens = container_of(state).notifications.unsubscribe_tokens()
    return tokens


def _wants_html(request: Request[Any, Any, Any]) -> bool:
    return "text/html" in request.headers.get("accept", "")


class UnsubscribeController(Controller):
    path = "/api/v1/notifications/unsubscribe"
    tags = ["notifications"]

    @get(
        "/",
        summary="The page an unsubscribe link opens: it asks before unsubscribing",
        media_type=MediaType.HTML,
        include_in_schema=True,
    )
    async def confirm_page(self, state: State, token: Token) -> Response[str]:
        try:
            what = _tokens(state).read(token)
        except InvalidUnsubscribeTokenError as error:
            return _page("This link does not work", f"<p>{escape(error.detail)}</p>", error.status)
        body = (
            f"<p>Stop receiving <strong>{escape(what.category)}</strong> "
            f"{escape(what.channel.value.replace('_', '-'))} messages?</p>"
            f'<form method="post"><input type="hidden" name="List-Unsubscribe" '
            f'value="One-Click"><button type="submit">Unsubscribe</button></form>'
        )
        return _page("Unsubscribe", body)

    @post(
        "/",
        summary="Unsubscribe (RFC 8058 one-click): turn a category off on one channel",
        status_code=200,
    )
    async def unsubscribe(
        self, request: Request[Any, Any, Any], state: State, uow: Uow, token: Token
    ) -> Response[Any]:
        what: Unsubscribe = _tokens(state).read(token)  # an invalid token: 400 problem
        service: PreferenceService = container_of(state).notifications.preferences(
            session=uow.session
        )
        await service.update(what.user_id, [PreferenceChoice(what.category, what.channel, False)])
        if _wants_html(request):
            return _page(
                "You are unsubscribed",
                f"<p>You will not receive <strong>{escape(what.category)}</strong> "
                f"{escape(what.channel.value.replace('_', '-'))} messages any more. You can "
                "turn them on again in your notification settings.</p>",
            )
        return Response(Unsubscribed(True, what.category, what.channel.value))
