"""``ninefold staff``: create, list and change platform staff."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from functools import partial
from typing import TYPE_CHECKING, Any

from entrypoints.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    settings_for_command,
    with_container,
)
from entrypoints.logging import configure_logging

if TYPE_CHECKING:
    from entrypoints.containers import ApplicationContainer


class _PasswordInputError(Exception):
    """No password to read: no terminal to prompt on, or nothing on stdin."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _read_password(args: argparse.Namespace) -> str:
    """One line of stdin with ``--password-stdin``; else a hidden prompt, asked twice."""

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise _PasswordInputError("no password on stdin", EXIT_FAILURE)
        return password
    if not sys.stdin.isatty():
        raise _PasswordInputError(
            "no terminal to ask the password on: pass --password-stdin", EXIT_USAGE
        )
    password = getpass.getpass(f"Password for {args.email}: ")
    if getpass.getpass("Repeat it: ") != password:
        raise _PasswordInputError("the passwords differ", EXIT_FAILURE)
    return password


async def _staff_create(args: argparse.Namespace, container: ApplicationContainer) -> int:
    from core.identity import StaffRole

    role = StaffRole(args.role)
    async with container.unit_of_work() as uow:  # a lookup first: no password to promote
        existing = await container.identity.staff(uow=uow).find_by_email(args.email)
    password = _read_password(args) if existing is None else None
    async with container.unit_of_work() as uow:
        created = await container.identity.staff(uow=uow).create_staff(
            args.email, role, password, args.name
        )
        await uow.commit()
    user = created.user
    if created.promoted:
        print(f"{user.email} had an account: made it staff ({role}); its password is unchanged")
    else:
        print(f"created staff account {user.email} ({role}), id {user.id}")
    return EXIT_OK


async def _staff_list(_args: argparse.Namespace, container: ApplicationContainer) -> int:
    async with container.unit_of_work() as uow:
        staff = await container.identity.staff(uow=uow).list_staff()
    if not staff:
        print("no staff yet: add some with 'ninefold staff create EMAIL --role ROLE'")
        return EXIT_OK
    width = max(len(user.email) for user in staff)
    for user in staff:
        notes = ["2fa" if user.two_factor_enabled else "no-2fa"]
        if user.is_banned:
            notes.append("banned")
        print(f"{user.email:<{width}}  {user.staff_role!s:<10}  {user.id}  {' '.join(notes)}")
    return EXIT_OK


async def _staff_set_role(args: argparse.Namespace, container: ApplicationContainer) -> int:
    from core.identity import StaffRole

    role = None if args.role == "none" else StaffRole(args.role)
    async with container.unit_of_work() as uow:
        user = await container.identity.staff(uow=uow).set_staff_role(args.email, role)
        await uow.commit()
    print(f"{user.email} is now {role}" if role else f"{user.email} is no longer staff")
    return EXIT_OK


def cmd_staff(args: argparse.Namespace) -> int:
    """Platform staff: create, list, change roles. Domain errors exit 1, in one line."""
    from core.identity import InvalidPasswordError, WeakPasswordError
    from core.kernel import DomainError

    settings = settings_for_command()
    configure_logging(settings)
    work = {"create": _staff_create, "list": _staff_list, "set-role": _staff_set_role}
    try:
        return asyncio.run(with_container(settings, partial(work[args.staff_command], args)))
    except _PasswordInputError as exc:
        print(f"ninefold staff {args.staff_command}: {exc}", file=sys.stderr)
        return exc.code
    except (WeakPasswordError, InvalidPasswordError) as exc:
        print(
            f"ninefold staff {args.staff_command}: password refused: {exc.detail}", file=sys.stderr
        )
        return EXIT_FAILURE
    except DomainError as exc:
        print(f"ninefold staff {args.staff_command}: {exc.detail}", file=sys.stderr)
        return EXIT_FAILURE


def add_staff_parser(sub: Any) -> None:
    """``ninefold staff create|list|set-role``."""
    staff = sub.add_parser(
        "staff",
        help="platform staff: create, list, change roles",
        description="Platform staff (support, ops, superadmin) use /api/v1/admin; staff "
        "roles are separate from workspace roles. Only this command makes staff.",
    )
    staff_sub = staff.add_subparsers(dest="staff_command", required=True, metavar="ACTION")
    staff_roles = ["support", "ops", "superadmin"]
    create = staff_sub.add_parser(
        "create",
        help="create a staff account, or make an existing user staff",
        description="Create a staff account (email verified) with a password asked on a "
        "hidden prompt, or read as one line of stdin with --password-stdin; it must pass "
        "the sign-up password rules. An existing user who is not staff is made staff "
        "instead, their password unchanged (no password is asked).",
    )
    create.add_argument("email", help="the staff member's email")
    create.add_argument("--role", required=True, choices=staff_roles, help="the staff role")
    create.add_argument("--name", default="", help="display name (default: from the email)")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin (one line)"
    )
    staff_sub.add_parser(
        "list", help="list staff", description="Print every staff member: email, role, id."
    )
    set_role = staff_sub.add_parser(
        "set-role",
        help="change a user's staff role, or 'none' to take it away",
        description="Give the user with EMAIL a staff role, change it, or take it away "
        "('none'); it takes effect on their next request.",
    )
    set_role.add_argument("email", help="the user's email")
    set_role.add_argument("role", choices=[*staff_roles, "none"], help="the new staff role")
    staff.set_defaults(handler=cmd_staff)
