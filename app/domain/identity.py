"""Who is acting: users, their roles, the demo users and the group → role mapping."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from app.domain.text import normalised


class Role(StrEnum):
    VIEWER = "viewer"
    APPROVER = "approver"
    ADMIN = "admin"


# An admin may do all an approver may; an approver all a viewer may.
_IMPLIED = {
    Role.ADMIN: {Role.ADMIN, Role.APPROVER, Role.VIEWER},
    Role.APPROVER: {Role.APPROVER, Role.VIEWER},
    Role.VIEWER: {Role.VIEWER},
}


@dataclass(frozen=True)
class User:
    name: str
    display_name: str
    roles: frozenset[Role]
    groups: frozenset[str] = field(default_factory=frozenset)

    def has(self, role: Role) -> bool:
        return role in self.roles

    @property
    def role_label(self) -> str:
        for role in (Role.ADMIN, Role.APPROVER, Role.VIEWER):
            if role in self.roles:
                return role.value
        return "none"


def canonical_user_id(user_id: str) -> str:
    """The form in which user ids are compared wherever identity decides (four eyes, distinct
    approvals, the starter, the inbox, known users): NFC, trimmed, case-folded — so `Bob`,
    ` bob` and `bob` are one person. Only compared, never shown: names display as given."""
    return normalised(user_id).casefold()


def same_user(a: str, b: str) -> bool:
    """Whether user ids `a` and `b` name the same person (compared canonically)."""
    return canonical_user_id(a) == canonical_user_id(b)


def with_implied(roles: Iterable[Role]) -> frozenset[Role]:
    return frozenset(r for role in roles for r in _IMPLIED[role])


DEMO_USERS: dict[str, User] = {
    user.name: user
    for user in (
        User("ada", "Ada Admin", with_implied([Role.ADMIN])),
        User("bob", "Bob Approver", with_implied([Role.APPROVER])),
        User("carol", "Carol Approver", with_implied([Role.APPROVER])),
        User("vera", "Vera Viewer", with_implied([Role.VIEWER])),
    )
}


def demo_user(name: str) -> User | None:
    """The demo user `name` names, compared canonically (`Bob` is bob), or None."""
    return DEMO_USERS.get(canonical_user_id(name))


def user_from_groups(
    name: str, groups: Iterable[str], admin_group: str, approver_group: str
) -> User:
    """A reverse-proxy identity: everyone signed in may view; groups grant more."""
    group_set = frozenset(g.strip() for g in groups if g.strip())
    roles = {Role.VIEWER}
    if approver_group in group_set:
        roles.add(Role.APPROVER)
    if admin_group in group_set:
        roles.add(Role.ADMIN)
    return User(name=name, display_name=name, roles=with_implied(roles), groups=group_set)
