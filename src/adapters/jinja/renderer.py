"""``JinjaTemplateRenderer``: notification templates rendered with Jinja2.

Where the templates are (docs/systems/notifications.md, "Templates"): a type's files are
``<type.templates>/templates/<type name>/<file>``, with the file names of
``TEMPLATE_FILES``; a locale's variant of a file is in a sub-folder,
``<type name>/<locale>/<file>``, and each file falls back on its own along
``locale_chain`` (``pt-BR``: ``pt-br``, ``pt``, the default). The shared layout is
``<layout_package>/templates/_layout/<file>`` (localised the same way); a type's
template extends it with ``{% extends layout %}``: the renderer puts the resolved
layout's name in the context as ``layout``, and the rendered subject as ``subject``.

``type.templates`` names a package (``core.identity``), loaded with
``jinja2.PackageLoader`` so that editable and installed packages both work, or, for
tests and forks, ``path:/absolute/folder``: a folder that holds ``templates/``.

Output: subjects, in-app titles and links are stripped, with line breaks in subjects
and titles turned into spaces; bodies keep their lines, without blank lines at the
start or whitespace at the end. HTML is autoescaped, text is not. ``None`` renders as
an empty string.

``strict=True`` (tests, development, previews): a variable the data lacks raises
``TemplateError`` naming the type, the file and the variable. ``strict=False``: it
renders empty, and a warning is logged on ``ninefold.notifications``. A missing required
template or one that does not parse raises ``TemplateError`` either way.

One Jinja environment per templates package, built on first use and kept; templates are
compiled once and never reloaded (restart the process after editing one).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from contextvars import ContextVar
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, Final, cast

import jinja2
from jinja2.utils import missing

from core.notifications import (
    TEMPLATE_FILES,
    Channel,
    NotificationType,
    Rendered,
    TemplateError,
    locale_chain,
)

logger = logging.getLogger("ninefold.notifications")

PATH_PREFIX: Final = "path:"
TEMPLATES_FOLDER: Final = "templates"
LAYOUT_FOLDER: Final = "_layout"
_ONE_LINE_PARTS: Final = frozenset({"subject"})  # subjects and in-app titles
_LOCALE: Final = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_LINE_BREAKS: Final = re.compile(r"\s*[\r\n]+\s*")

# What is being rendered ("identity.verify_email: email.txt"), for the warnings of
# lenient mode and the errors of strict mode.
_rendering: ContextVar[str] = ContextVar("ninefold_template_rendering", default="")


class _MissingVariableError(jinja2.UndefinedError):
    def __init__(self, message: str, variable: str) -> None:
        super().__init__(message)
        self.variable = variable


class _StrictUndefined(jinja2.StrictUndefined):
    """Fails on any use but ``is defined``, naming the variable."""

    __slots__ = ()

    def __init__(
        self,
        hint: str | None = None,
        obj: Any = missing,
        name: str | None = None,
        exc: type[jinja2.TemplateRuntimeError] = jinja2.UndefinedError,
    ) -> None:
        super().__init__(hint, obj, name, exc)
        self._undefined_exception = cast(
            "type[jinja2.TemplateRuntimeError]",
            partial(_MissingVariableError, variable=name or ""),
        )


class _LoggingUndefined(jinja2.ChainableUndefined):
    """Renders empty (also ``missing.attribute``) and logs a warning when printed."""

    __slots__ = ()

    def __str__(self) -> str:
        logger.warning(
            "notification template %s: the variable %r is missing, rendered empty",
            _rendering.get(),
            self._undefined_name,
        )
        return ""


def _finalize(value: Any) -> Any:
    return "" if value is None else value


class JinjaTemplateRenderer:
    """The ``TemplateRenderer`` port with Jinja2.

    ``strict``: fail on variables the data lacks (tests, development, previews) rather
    than render them empty with a warning (production). ``layout_package``: the package
    (or ``path:/folder``) whose ``templates/_layout/`` holds the shared layout.
    """

    def __init__(self, *, strict: bool, layout_package: str = "core.notifications") -> None:
        self._strict = strict
        self._layout_package = layout_package
        self._environments: dict[str, jinja2.Environment] = {}
        self._found: dict[tuple[str, tuple[str, ...]], str | None] = {}
        self._lock = threading.Lock()

    @property
    def strict(self) -> bool:
        return self._strict

    def render(
        self,
        notification: NotificationType,
        channel: Channel,
        data: Mapping[str, Any],
        *,
        locale: str | None = None,
    ) -> Rendered:
        files = TEMPLATE_FILES.get(channel)
        if files is None or channel not in notification.channels:
            raise TemplateError(
                f"{notification.name} is not sent on {channel}",
                notification=notification.name,
                channel=str(channel),
            )
        environment = self._environment(notification)
        chain = tuple(code for code in locale_chain(locale) if not code or _LOCALE.match(code))
        context = dict(data)
        parts: dict[str, str | None] = {}
        for part, (file, required) in files.items():
            name = self._find(environment, notification, notification.name, file, chain)
            if name is None:
                if required:
                    folder = f"{notification.templates}: {TEMPLATES_FOLDER}/{notification.name}"
                    raise TemplateError(
                        f"{notification.name}: the template {file} is missing "
                        f"(looked in {folder}/ for the locales {_locales(chain)})",
                        notification=notification.name,
                        template=file,
                    )
                parts[part] = None
                continue
            layout = self._find(environment, notification, LAYOUT_FOLDER, file, chain)
            context["layout"] = layout or f"{LAYOUT_FOLDER}/{file}"
            text = self._render(environment, notification, name, context)
            if part in _ONE_LINE_PARTS:
                text = _LINE_BREAKS.sub(" ", text.strip())
                context["subject"] = text
            elif part == "link":
                text = text.strip()
            elif file.endswith(".html"):
                text = text.strip() + "\n"
            else:
                text = text.lstrip("\r\n").rstrip()
            parts[part] = text
        return Rendered(
            subject=parts.get("subject"),
            text=parts.get("text") or "",
            html=parts.get("html"),
            link=parts.get("link") or None,
        )

    def _environment(self, notification: NotificationType) -> jinja2.Environment:
        package = notification.templates
        environment = self._environments.get(package)
        if environment is not None:
            return environment
        with self._lock:
            environment = self._environments.get(package)
            if environment is None:
                loader = jinja2.ChoiceLoader(
                    [
                        # "_layout/…" always comes from the layout package.
                        jinja2.PrefixLoader(
                            {
                                LAYOUT_FOLDER: _loader(
                                    self._layout_package, notification, LAYOUT_FOLDER
                                )
                            }
                        ),
                        _loader(package, notification),
                    ]
                )
                environment = jinja2.Environment(
                    loader=loader,
                    autoescape=jinja2.select_autoescape(
                        enabled_extensions=("html",), default_for_string=False, default=False
                    ),
                    undefined=_StrictUndefined if self._strict else _LoggingUndefined,
                    finalize=_finalize,
                    trim_blocks=True,
                    lstrip_blocks=True,
                    keep_trailing_newline=False,
                    auto_reload=False,
                )
                self._environments[package] = environment
        return environment

    def _find(
        self,
        environment: jinja2.Environment,
        notification: NotificationType,
        folder: str,
        file: str,
        chain: tuple[str, ...],
    ) -> str | None:
        """The name of the most specific variant of ``folder/file`` for the locales of
        ``chain``, or ``None`` when there is none. Compiles it (once) on the way."""
        candidates = tuple(
            f"{folder}/{code}/{file}" if code else f"{folder}/{file}" for code in chain
        )
        key = (notification.templates, candidates)
        if key in self._found:
            return self._found[key]
        found = None
        for name in candidates:
            try:
                environment.get_template(name)
            except jinja2.TemplateNotFound as error:
                if error.name != name:
                    raise _as_template_error(notification, name, error) from error
                continue
            except jinja2.TemplateSyntaxError as error:
                raise _as_template_error(notification, name, error) from error
            found = name
            break
        self._found[key] = found
        return found

    def _render(
        self,
        environment: jinja2.Environment,
        notification: NotificationType,
        name: str,
        context: Mapping[str, Any],
    ) -> str:
        token = _rendering.set(f"{notification.name}: {name}")
        try:
            return environment.get_template(name).render(context)
        except Exception as error:
            raise _as_template_error(notification, name, error) from error
        finally:
            _rendering.reset(token)


def _loader(spec: str, notification: NotificationType, prefix: str = "") -> jinja2.BaseLoader:
    """A loader of ``<spec>/templates`` (``/<prefix>`` when given)."""
    sub = f"{TEMPLATES_FOLDER}/{prefix}" if prefix else TEMPLATES_FOLDER
    if spec.startswith(PATH_PREFIX):
        folder = Path(spec.removeprefix(PATH_PREFIX)) / sub
        if not folder.is_absolute():
            raise TemplateError(
                f"{notification.name}: a templates path must be absolute: {spec}",
                notification=notification.name,
            )
        return jinja2.FileSystemLoader(folder)
    try:
        return jinja2.PackageLoader(spec, sub)
    except (ImportError, ValueError) as error:
        raise TemplateError(
            f"{notification.name}: the package {spec} has no {sub} folder ({error})",
            notification=notification.name,
        ) from error


def _as_template_error(
    notification: NotificationType, name: str, error: Exception
) -> TemplateError:
    """``error``, raised while loading or rendering the template ``name``, as a
    ``TemplateError`` naming the type, the file and what went wrong."""
    where = _template_frame(error.__traceback__)
    at = f" (at {where})" if where else ""
    extra: dict[str, Any] = {"notification": notification.name, "template": name}
    if isinstance(error, _MissingVariableError):
        extra["variable"] = error.variable
        detail = f"the variable {error.variable!r} is missing"
        if error.message != f"{error.variable!r} is undefined":
            detail += f" ({error.message})"
    elif isinstance(error, jinja2.TemplateSyntaxError):
        detail = f"syntax error in {error.name or name}, line {error.lineno}: {error.message}"
    elif isinstance(error, jinja2.TemplateNotFound):
        detail = f"the template {error.name} is missing"
    else:
        detail = f"{type(error).__name__}: {error}"
    return TemplateError(f"{notification.name}: {name}: {detail}{at}", **extra)


def _template_frame(tb: TracebackType | None) -> str:
    """Where in which template the innermost template frame of a traceback is
    (``_layout/email.html:12``), or ``""``. Jinja rewrites template frames so that their
    file name is the template's."""
    where = ""
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        path = Path(filename)
        if TEMPLATES_FOLDER in path.parts and path.suffix != ".py":
            index = len(path.parts) - 1 - path.parts[::-1].index(TEMPLATES_FOLDER)
            where = f"{'/'.join(path.parts[index + 1 :])}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where


def _locales(chain: tuple[str, ...]) -> str:
    return ", ".join(code or "default" for code in chain)
