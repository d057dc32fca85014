"""`stepladder token create|list|revoke`: the token service from a shell, as plain text."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime

from app.domain.tokens import ApiToken
from app.tokens import service

CLI_CREATOR = "cli"
"""`created_by` of tokens issued from the shell (whoever can reach the database is trusted)."""


def _when(moment: datetime | None, empty: str) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else empty


def describe(token: ApiToken, now: datetime) -> str:
    groups = f" groups={','.join(token.groups)}" if token.groups else ""
    return (
        f"{token.id}\t{token.prefix}…\t{token.state_at(now)}\t{token.user_name}"
        f"\t{','.join(token.roles)}{groups}\t{token.name or '-'}"
        f"\texpires {_when(token.expires_at, 'never')}\tlast used {_when(token.last_used_at, 'never')}"
    )


def token_parser() -> argparse.ArgumentParser:
    """`stepladder token`'s options: create (--user, --role, --name, --group, --expires-days),
    list, revoke ID."""
    parser = argparse.ArgumentParser(
        prog="stepladder token",
        description="API tokens for users and service accounts (`Authorization: Bearer`).",
    )
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="issue a token; prints its secret, once")
    create.add_argument("--user", required=True, help="user or service account it stands for")
    create.add_argument("--role", default="viewer", help="viewer, approver or admin")
    create.add_argument("--name", default="", help="a label: what uses the token")
    create.add_argument("--group", action="append", default=[], help="a group (repeatable)")
    create.add_argument("--expires-days", type=int, default=None, help="days until it expires")
    actions.add_parser("list", help="every token, without secrets")
    revoke = actions.add_parser("revoke", help="revoke a token: it answers 401 from now on")
    revoke.add_argument("id", type=int, help="the token's id (from `list`)")
    return parser


async def run_token_command(options: argparse.Namespace, out: Callable[[str], None]) -> None:
    now = datetime.now(UTC)
    if options.action == "create":
        issued = await service.issue_token(
            user_name=options.user,
            roles=service.parse_roles([options.role]),
            groups=options.group,
            name=options.name,
            expires_days=options.expires_days,
            created_by=CLI_CREATOR,
        )
        out(f"token {issued.token.id} for {issued.token.user_name}; shown once, keep it now:")
        out(issued.secret)
    elif options.action == "list":
        tokens = await service.list_tokens()
        for token in tokens:
            out(describe(token, now))
        if not tokens:
            out("no tokens")
    elif options.action == "revoke":
        if not await service.revoke_token(options.id):
            raise service.TokenError(f"no active token {options.id}")
        out(f"token {options.id} revoked")
