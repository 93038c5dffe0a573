"""The notification settings as the hub's database holds them: the one place channels and routes come from.

The admin page changes them one channel or one route at a time; ``xiaoan config
import`` replaces them from a YAML file; the YAML named by ``XIAOAN_NOTIFY_CONFIG``
seeds an empty database once and is ignored after that. Every change is validated as
a whole before anything is written (the same checks the YAML gets at start, and every
route an escalation policy uses must exist), stored as a new version with who and
what, and handed to ``on_change`` so the running hub sends through it at once.

Secrets (bot keys, webhook URLs, SMTP passwords) leave this module masked, except
through ``export(with_secrets=True)``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import ValidationError

from hub.errors import Conflict, FieldError, NotFound
from hub.notify.channel_forms import ChannelForm, channel_config, is_masked, mask_url
from hub.notify.config import AppriseChannelConfig, NotifyConfig, RouteConfig, _cross_checks, _without_tag
from hub.notify.rota import ShiftConfig
from hub.store.settings import SettingsStore, SettingsVersion, StaleVersion

_LOGGER = logging.getLogger(__name__)

SECTION = "notify"
#: Channel names are ids in routes and the delivery log: short, no spaces.
NAME_PATTERN = r"^[a-z0-9_-]{1,64}$"

OnChange = Callable[[NotifyConfig], None]


def _path(loc: Iterable[object]) -> str:
    return ".".join(str(part) for part in loc)


def changed_paths(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs, by setting: a top-level key, or one channel, or one route (``channels.x``, ``routes.y``)."""
    paths: list[str] = []
    for key in sorted(set(old) | set(new)):
        if key in ("channels", "routes"):
            before, after = old.get(key) or {}, new.get(key) or {}
            paths += [f"{key}.{name}" for name in sorted(set(before) | set(after))
                      if before.get(name) != after.get(name)]
        elif old.get(key) != new.get(key):
            paths.append(key)
    return paths


def _get(data: dict[str, Any], path: str) -> tuple[bool, Any]:
    head, _, name = path.partition(".")
    if name:
        section = data.get(head) or {}
        return name in section, section.get(name)
    return head in data, data.get(head)


def _set(data: dict[str, Any], path: str, present: bool, value: Any) -> None:
    head, _, name = path.partition(".")
    target = data.setdefault(head, {}) if name else data
    key = name or head
    if present:
        target[key] = value
    else:
        target.pop(key, None)


class NotifySettings:
    """Versioned channels and routes; ``required_routes`` are the routes escalation policies send to."""

    def __init__(self, store: SettingsStore, required_routes: Iterable[str], *, on_change: OnChange | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.required_routes = sorted(set(required_routes))
        self.on_change = on_change
        self._clock = clock
        latest = store.latest(SECTION)
        #: The version the running hub sends through (``poll`` applies a newer one saved elsewhere).
        self.applied: int | None = None if latest is None else latest.id

    # -- reading ---------------------------------------------------------------------------------

    def latest(self) -> SettingsVersion | None:
        return self.store.latest(SECTION)

    def config(self) -> NotifyConfig | None:
        """The channels and routes in force (None: nothing configured, alarms reach the page only)."""
        latest = self.latest()
        return None if latest is None else NotifyConfig.model_validate(latest.data)

    def history(self, limit: int = 50) -> list[SettingsVersion]:
        return self.store.history(SECTION, limit)

    def starting_point(self) -> dict[str, Any]:
        """The document a change applies to: the newest version, or the web page alone on every needed route."""
        latest = self.latest()
        if latest is not None:
            return latest.data
        return {"channels": {"web": {"type": "web"}},
                "routes": {name: {"always": ["web"], "fallback": []} for name in self.required_routes}}

    # -- validation ------------------------------------------------------------------------------

    def validate(self, data: dict[str, Any]) -> NotifyConfig:
        """The whole document checked as the YAML is at start; the first problem raised naming its field."""
        try:
            config = NotifyConfig.model_validate(data)
        except ValidationError as error:
            problems = [(_path(_without_tag(tuple(e["loc"]))), e["msg"]) for e in error.errors()]
            raise FieldError(problems[0][0], "; ".join(msg for _, msg in problems[:3])) from None
        crossed = [(_path(loc), message) for loc, message in _cross_checks(config)]
        crossed += [(f"routes.{name}", f"no route {name!r}, which an escalation policy uses")
                    for name in self.required_routes if name not in config.routes]
        if crossed:
            raise FieldError(crossed[0][0], crossed[0][1])
        return config

    # -- changing --------------------------------------------------------------------------------

    def _save(self, data: dict[str, Any], actor: str, action: str, *, expect: int | None) -> SettingsVersion:
        config = self.validate(data)
        clean = config.model_dump(mode="json", exclude_defaults=True)
        old = self.starting_point() if expect is not None else {}
        changes = changed_paths(old, clean)
        try:
            saved = self.store.save(SECTION, clean, ts=self._clock(), actor=actor, action=action, changes=changes,
                                    expect=expect)
        except StaleVersion as stale:
            raise Conflict(None, str(stale)) from None
        # Names of what changed only: the values hold secrets and never reach the log.
        _LOGGER.info("notification settings version %d by %s (%s): %s", saved.id, actor, action,
                     ", ".join(changes) or "no change")
        self.applied = saved.id
        if self.on_change is not None:
            self.on_change(config)
        return saved

    def poll(self, _now: float = 0.0) -> bool:
        """Apply a version saved by another process (``xiaoan config import``); True when one was applied."""
        latest = self.latest()
        if latest is None or latest.id == self.applied:
            return False
        self.applied = latest.id
        _LOGGER.info("notification settings version %d saved elsewhere, now in force", latest.id)
        if self.on_change is not None:
            self.on_change(NotifyConfig.model_validate(latest.data))
        return True

    def _expect(self) -> int | None:
        latest = self.latest()
        return None if latest is None else latest.id

    def seed(self, config: NotifyConfig, source: str) -> bool:
        """The YAML given at start, as version 1 of an empty database; False when the database already has one."""
        if self.latest() is not None:
            return False
        try:
            self._save(config.model_dump(mode="json", exclude_defaults=True), f"seed:{source}", "seed", expect=None)
        except Conflict:
            return False  # another process on this state directory seeded it first
        return True

    def put_channel(self, name: str, form: ChannelForm, actor: str) -> SettingsVersion:
        """Add a channel, or change one (secrets left empty keep their saved value)."""
        expect = self._expect()
        data = self.starting_point()
        channels = dict(data.get("channels") or {})
        current = self.config()
        previous = current.channels.get(name) if current is not None else None
        if previous is not None and previous.type not in ("apprise", "sms"):
            raise FieldError("name", f"{name!r} is a built-in channel and has no form")
        spec = channel_config(form, previous)
        channels[name] = spec.model_dump(mode="json", exclude_defaults=True) | {"type": spec.type}
        return self._save({**data, "channels": channels}, actor, "channel.changed" if previous else "channel.added",
                          expect=expect)

    def delete_channel(self, name: str, actor: str) -> SettingsVersion:
        expect = self._expect()
        data = self.starting_point()
        channels = dict(data.get("channels") or {})
        if name not in channels:
            raise NotFound("name", f"no channel {name!r}")
        users = [tier for tier, route in (data.get("routes") or {}).items()
                 if name in route.get("always", []) + route.get("fallback", [])]
        if users:
            raise Conflict("name", f"still on the route(s) {', '.join(users)}: take it off them first")
        del channels[name]
        return self._save({**data, "channels": channels}, actor, "channel.removed", expect=expect)

    def put_route(self, tier: str, route: RouteConfig, actor: str) -> SettingsVersion:
        """Set what ``route`` was given; what it was not given (the admin page's form has no rota) stays."""
        expect = self._expect()
        data = self.starting_point()
        routes = dict(data.get("routes") or {})
        routes[tier] = {**(routes.get(tier) or {}), **route.model_dump(mode="json", include=route.model_fields_set)}
        return self._save({**data, "routes": routes}, actor, "route.changed", expect=expect)

    def put_rota(self, tier: str, shifts: list[dict[str, Any]], actor: str,
                 known_person: Callable[[str], bool] | None = None) -> SettingsVersion:
        """Replace a route's rota (its shifts, in order); each shift checked, a mistake named by its field.

        ``known_person`` says whether a username is an enabled account: a shift naming someone
        who cannot sign in would page nobody, so it is refused here rather than found at 23:00.
        """
        expect = self._expect()
        data = self.starting_point()
        routes = dict(data.get("routes") or {})
        if tier not in routes:
            raise NotFound("route", f"no route {tier!r}")
        checked: list[ShiftConfig] = []
        for index, shift in enumerate(shifts):
            try:
                found = ShiftConfig.model_validate(shift)
            except ValidationError as error:
                first = error.errors()[0]
                where = _path(("shifts", index, *first["loc"]))
                raise FieldError(where, first["msg"]) from None
            for person in found.people:
                if known_person is not None and not known_person(person):
                    raise FieldError(f"shifts.{index}.people", f"no enabled account {person!r} · 没有这个账号")
            checked.append(found)
        rota = [shift.model_dump(mode="json", exclude_defaults=True) for shift in checked]
        routes[tier] = {**routes[tier], "rota": rota}
        return self._save({**data, "routes": routes}, actor, "rota.changed", expect=expect)

    def rollback(self, version_id: int, actor: str) -> SettingsVersion:
        """Undo one change: what version ``version_id`` changed goes back to how it was before it, the rest stays."""
        target = self.store.version(SECTION, version_id)
        if target is None:
            raise NotFound("version", f"no version {version_id}")
        before = self.store.before(SECTION, version_id)
        if before is None:
            raise FieldError("version", "the first version has nothing before it to go back to")
        expect = self._expect()
        data = self.starting_point()
        for path in changed_paths(before.data, target.data):
            present, value = _get(before.data, path)
            _set(data, path, present, value)
        return self._save(data, actor, f"rollback.{version_id}", expect=expect)

    def replace(self, data: dict[str, Any], actor: str, action: str = "import") -> SettingsVersion:
        """A whole document (an imported YAML): masked secrets it carries keep the saved ones, or are refused."""
        return self._save(self.unmask(data), actor, action, expect=self._expect())

    # -- masking ---------------------------------------------------------------------------------

    def unmask(self, data: dict[str, Any]) -> dict[str, Any]:
        """Masked URLs of an export made without secrets replaced by the saved ones they stand for."""
        current = self.latest()
        saved = (current.data.get("channels") or {}) if current is not None else {}
        channels = data.get("channels")
        if not isinstance(channels, dict):
            return data
        out = dict(channels)
        for name, spec in channels.items():
            urls = spec.get("urls") if isinstance(spec, dict) else None
            if not isinstance(urls, list):
                continue
            known = (saved.get(name) or {}).get("urls") or []
            fixed = []
            for index, url in enumerate(urls):
                if isinstance(url, str) and is_masked(url):
                    match = [k for k in known if mask_url(k) == url]
                    if not match:
                        raise FieldError(f"channels.{name}.urls.{index}",
                                         "a masked secret this hub does not hold: export with --with-secrets,"
                                         " or write the full URL")
                    fixed.append(match[0])
                else:
                    fixed.append(url)
            out[name] = {**spec, "urls": fixed}
        return {**data, "channels": out}

    def export(self, *, with_secrets: bool = False) -> dict[str, Any] | None:
        """The settings in force as the YAML file's document; URLs masked unless ``with_secrets``."""
        config = self.config()
        if config is None:
            return None
        data = config.model_dump(mode="json", exclude_defaults=True)
        if with_secrets:
            return data
        for name, spec in config.channels.items():
            if isinstance(spec, AppriseChannelConfig):
                data["channels"][name]["urls"] = [mask_url(url) for url in spec.urls]
        return data
