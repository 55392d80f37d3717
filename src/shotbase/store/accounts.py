"""Users and their API keys. Keys are random secrets stored only as SHA-256 hashes."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from shotbase.errors import DuplicateEntityError, EntityNotFoundError
from shotbase.store.tables import TYPE_COLUMN, Tables
from shotbase.store.writer import Writer

__all__ = ["Account", "authenticate", "create_user", "find_user", "has_users", "issue_key"]

ADMIN_ROLE = "Administrator"


@dataclass(frozen=True, slots=True)
class Account:
    """An authenticated user."""

    id: str
    username: str

    def __repr__(self) -> str:
        return f"Account(username={self.username!r})"


def hash_key(api_key: str) -> str:
    """The stored form of an API key."""
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def has_users(tables: Tables, connection: sa.Connection) -> bool:
    """True when the database has at least one user."""
    resource = tables.families["Resource"]
    statement = sa.select(resource.c.id).where(resource.c[TYPE_COLUMN] == "User").limit(1)
    return connection.execute(statement).first() is not None


def find_user(tables: Tables, connection: sa.Connection, username: str) -> Account | None:
    """The active user called ``username``, or None."""
    resource = tables.families["Resource"]
    statement = sa.select(resource.c.id, resource.c.username).where(
        resource.c[TYPE_COLUMN] == "User",
        resource.c.username == username,
        resource.c.is_active.is_(True),
    )
    found = connection.execute(statement).first()
    return Account(found.id, found.username) if found else None


def create_user(
    tables: Tables, connection: sa.Connection, username: str, *, admin: bool = False
) -> Account:
    """Create an active user, optionally with the Administrator role.

    Raises:
        DuplicateEntityError: If a user of that name exists.
    """
    resource = tables.families["Resource"]
    taken = sa.select(resource.c.id).where(resource.c.username == username)
    if connection.execute(taken).first() is not None:
        raise DuplicateEntityError("User", (username,))
    writer = Writer(tables, connection, user_id=None)
    user = writer.create("User", {"username": username, "is_active": True, "first_name": username})
    user_id = str(user.row["id"])
    if admin:
        role = tables.families["SecurityRole"]
        role_id = connection.execute(sa.select(role.c.id).where(role.c.name == ADMIN_ROLE)).scalar()
        if role_id is not None:
            writer.create(
                "UserSecurityRole",
                {"user_id": user_id, "security_role_id": role_id, "is_all_projects": True},
            )
    writer.finish()
    return Account(user_id, username)


def issue_key(tables: Tables, connection: sa.Connection, username: str) -> str:
    """Make a new API key for ``username`` and return it; only its hash is kept.

    Raises:
        EntityNotFoundError: If there is no active user of that name.
    """
    account = find_user(tables, connection, username)
    if account is None:
        raise EntityNotFoundError("User", (username,))
    api_key = secrets.token_urlsafe(32)
    connection.execute(
        tables.api_key.insert().values(
            id=str(uuid.uuid4()),
            user_id=account.id,
            key_hash=hash_key(api_key),
            created_at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
        )
    )
    return api_key


def authenticate(
    tables: Tables, connection: sa.Connection, username: str, api_key: str
) -> Account | None:
    """The account whose name and key these are, or None."""
    account = find_user(tables, connection, username)
    if account is None:
        return None
    statement = sa.select(tables.api_key.c.key_hash).where(tables.api_key.c.user_id == account.id)
    wanted = hash_key(api_key)
    for (stored,) in connection.execute(statement):
        if hmac.compare_digest(stored, wanted):
            return account
    return None
