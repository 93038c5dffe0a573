"""District inspectors (区县教育局、市场监管): read-only accounts of the district, each scoped to its schools.

An inspector signs in with a token of its own (shown once when the account is made,
kept as its SHA-256 like a school's). Its scope is a list of schools, or every school
of the district (``all_sites``: the bureau's own staff). Nothing an inspector holds
lets it post records or change a school's alarms: the district has no such route,
and a school's route authenticates schools only.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from hub.district.store import DistrictStore, token_digest
from hub.district.wire import SITE_PATTERN

#: An inspector's account name is spelled like a site id.
NAME_PATTERN = SITE_PATTERN


@dataclass(frozen=True)
class Inspector:
    name: str
    display_name: str
    #: Every school of the district (True), or only ``sites``.
    all_sites: bool
    sites: frozenset[str]

    def may_see(self, site: str) -> bool:
        return self.all_sites or site in self.sites


def add_inspector(store: DistrictStore, name: str, display_name: str, sites: Sequence[str],
                  all_sites: bool = False) -> str:
    """Make an inspector's account; returns its token (shown once). Every named school must be registered."""
    if not NAME_PATTERN.match(name):
        raise ValueError(f"name: {name!r} is not an account name (lower-case letters, digits, - and _, up to 64)")
    if not display_name.strip() or len(display_name) > 100 or any(c < " " for c in display_name):
        raise ValueError("display_name: 1 to 100 characters, no control characters")
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
        db.execute("INSERT INTO inspectors (name, display_name, token_sha256, all_sites) VALUES (%s, %s, %s, %s)",
                   (name, display_name.strip(), token_digest(token), all_sites))
        for site in sorted(set(sites)):
            db.execute("INSERT INTO inspector_sites (inspector, site) VALUES (%s, %s)", (name, site))
    return token


def authenticate(store: DistrictStore, token: str) -> Inspector | None:
    """The inspector holding ``token``, or None."""
    # Looked up by its digest: a token is 32 random bytes, so how long the lookup takes tells a guesser nothing.
    return _inspector(store, "token_sha256 = %s", token_digest(token))


def inspector_named(store: DistrictStore, name: str) -> Inspector | None:
    return _inspector(store, "name = %s", name)


def _inspector(store: DistrictStore, where: str, value: object) -> Inspector | None:
    with store.pool.connection() as db:
        row = db.execute("SELECT name, display_name, all_sites FROM inspectors WHERE " + where,  # noqa: S608
                         (value,)).fetchone()  # ``where`` is one of this module's two literals
        if row is None:
            return None
        name, display_name, all_sites = row
        sites = db.execute("SELECT site FROM inspector_sites WHERE inspector = %s", (name,)).fetchall()
    return Inspector(str(name), str(display_name), bool(all_sites), frozenset(str(s[0]) for s in sites))
