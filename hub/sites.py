"""One school per hub: the site a hub serves, and the refusal of every other.

A school hub keeps one school's records. Its accounts, alarms, checklists, samples,
visitors, calendar and weekly reports carry no site of their own because all of them
are that school's; a person signed in at the hub is a person of that school. Several
schools are several hubs feeding one district service (docs/district.md), and that is
where records carry a site and accounts are scoped to sites.

A hub that took a second school's devices would let a cook of one school acknowledge
the other school's alarms and would put both schools' fridges into one weekly log for
one safety officer to sign. So it takes none: the broker's door may be shared, the
hub's records may not. The site is ``XIAOAN_SITE`` when set; otherwise it is the site
of the devices the hub already has, and a new hub takes the site of its first device.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

#: ``XIAOAN_SITE`` left at its default: the hub serves the site its devices have.
ANY_SITE = "+"


class SiteConflict(ValueError):
    """The hub already holds devices of more than one school: it cannot tell whose hub it is."""


def served_site(configured: str, known: Iterable[str]) -> str | None:
    """The site a hub serves at start: the configured one, else its devices' one, else None (no device yet).

    Raises SiteConflict for a hub that (from before this rule) holds devices of two
    schools and names neither: which school's people may see which alarms cannot be
    guessed, so it must be said (``XIAOAN_SITE``) before the hub starts.
    """
    if configured != ANY_SITE:
        return configured
    sites = sorted({site for site in known if site})
    if len(sites) > 1:
        raise SiteConflict(f"this hub holds devices of {len(sites)} schools ({', '.join(sites)}); one hub serves one"
                           " school: set XIAOAN_SITE to this school's site and give each other school a hub of its own"
                           " (docs/district.md, \"One school per hub\")")
    return sites[0] if sites else None


def refusal(served: str, site: str) -> str | None:
    """Why a device or message of ``site`` is not this hub's (None: it is)."""
    if site == served:
        return None
    return f"this hub serves site {served!r}, not {site!r} (one school per hub)"


class SiteGuard:
    """The site this hub serves, shared by the ingest writer and the device admin page.

    A new hub with no site set takes the site of the first device it meets (the first
    device added on the admin page, or the first whose status arrives); from then on it
    refuses every other. The broker only lets a device publish under the site it was
    given an account for, so the first device is one somebody at this school added.
    """

    def __init__(self, served: str | None) -> None:
        self._site = served
        self._lock = threading.Lock()

    @property
    def site(self) -> str | None:
        """The site served; None until the first device of a hub with no ``XIAOAN_SITE``."""
        return self._site

    def admit(self, site: str) -> str | None:
        """Take ``site`` as this hub's when it has none yet; the refusal when it has another."""
        with self._lock:
            if self._site is None:
                self._site = site
            return refusal(self._site, site)
