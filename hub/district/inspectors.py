"""District accounts (区县教育局、市场监管): inspectors read their schools; admins also manage the accounts.

An account signs in with a token of its own (shown once when the account is made,
kept as its SHA-256 like a school's), or with a password on the pages. Its scope is a
list of schools, or every school of the district (``all_sites``: the bureau's own
staff). An **admin** (系统管理员) sees every school and also makes accounts and
registers schools from a page (hub.district.accounts). Nothing any account holds lets
it post records or change a school's alarms: the district has no such route, and a
school's route authenticates schools only. A disabled account opens nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from hub.district.store import DistrictStore, check_display_name, log_account_change, token_digest
from hub.district.wire import SITE_PATTERN

#: An inspector's account name is spelled like a site id.
NAME_PATTERN = SITE_PATTERN


class DistrictRole(StrEnum):
    INSPECTOR = "inspector"  # 督查员: reads its schools, signs the weekly table
    ADMIN = "admin"  # 系统管理员: every school, and the district's accounts and schools


@dataclass(frozen=True)
class Inspector:
    name: str
    display_name: str
    #: Every school of the district (True), or only ``sites``.
    all_sites: bool
    sites: frozenset[str]
    role: DistrictRole = DistrictRole.INSPECTOR

    def may_see(self, site: str) -> bool:
        return self.all_sites or site in self.sites

    @property
    def is_admin(self) -> bool:
        return self.role is DistrictRole.ADMIN


def add_inspector(store: DistrictStore, name: str, display_name: str, sites: Sequence[str],
                  all_sites: bool = False, role: DistrictRole = DistrictRole.INSPECTOR,
                  created_by: str | None = None) -> str:
    """Make an account; returns its token (shown once). Every named school must be registered.

    ``created_by``: the admin who made it on a page (None: the command line, run by whoever
    runs the district's machine). Either way the making is in the account log.
    """
    if role is DistrictRole.ADMIN and not all_sites:
        raise ValueError("role: an admin sees every school (--all)")
    if not NAME_PATTERN.match(name):
        raise ValueError(f"name: {name!r} is not an account name (lower-case letters, digits, - and _, up to 64)")
    check_display_name("display_name", display_name)
    if all_sites == bool(sites):
        raise ValueError("sites: name the inspector's schools, or give every school (--all), not both")
    for site in sites:
        if not SITE_PATTERN.match(site):
            raise ValueError(f"sites: {site!r} is not a site id")
    token = secrets.token_urlsafe(32)
    with store.pool.connection() as db, db.transaction():
        known = {str(row[0]) for row in db.execute("SELECT site FROM sites WHERE site = ANY(%s)",
                                                   (list(sites),)).fetchall()}
        unknown = sorted(set(sites) - known)
        if unknown:
            raise ValueError(f"sites: not registered at the district: {', '.join(unknown)}")
        made = db.execute("INSERT INTO inspectors (name, display_name, token_sha256, all_sites, role, created_by)"
                          " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (name) DO NOTHING",
                          (name, display_name.strip(), token_digest(token), all_sites, role.value, created_by))
        if not made.rowcount:  # two admins making one name at once: the second is told, not given a 500
            raise ValueError(f"name: an account called {name!r} exists already")
        for site in sorted(set(sites)):
            db.execute("INSERT INTO inspector_sites (inspector, site) VALUES (%s, %s)", (name, site))
        log_account_change(db, created_by, "account.added", name,
                           {"role": role.value, "all_sites": all_sites, "sites": sorted(set(sites))})
    return token



def authenticate(store: DistrictStore, token: str) -> Inspector | None:
    """The inspector holding ``token``, or None."""
    # Looked up by its digest: a token is 32 random bytes, so how long the lookup takes tells a guesser nothing.
    return _inspector(store, "token_sha256 = %s", token_digest(token))


def inspector_named(store: DistrictStore, name: str) -> Inspector | None:
    return _inspector(store, "name = %s", name)


def _inspector(store: DistrictStore, where: str, value: object) -> Inspector | None:
    with store.pool.connection() as db:
        row = db.execute("SELECT name, display_name, all_sites, role FROM inspectors"  # noqa: S608
                         " WHERE disabled_at IS NULL AND " + where,
                         (value,)).fetchone()  # ``where`` is one of this module's two literals
        if row is None:
            return None
        name, display_name, all_sites, role = row
        sites = db.execute("SELECT site FROM inspector_sites WHERE inspector = %s", (name,)).fetchall()
    return Inspector(str(name), str(display_name), bool(all_sites), frozenset(str(s[0]) for s in sites),
                     DistrictRole(str(role)))
