"""Time-zone names (IANA, e.g. ``Europe/Zurich``), checked against the zoneinfo database.

One check for every place a zone is named: a site calendar's ``time_zone``, a user's
``--tz``. The names come from ``zoneinfo.available_timezones()`` (the system's database or
the ``tzdata`` package), so a path such as ``../../etc/passwd`` is never opened.
"""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

MAX_ZONE_LENGTH = 64


@lru_cache(maxsize=1)
def known_zones() -> frozenset[str]:
    """Every IANA zone name this installation knows (UTC included)."""
    return frozenset(available_timezones() | {"UTC"})


class UnknownTimeZone(ValueError):
    """A name that is not an IANA time zone; ``zone`` is the text given."""

    def __init__(self, zone: str) -> None:
        self.zone = zone
        shown = zone if len(zone) <= 40 else zone[:40] + "..."
        super().__init__(
            f"unknown time zone {shown!r}: use an IANA name such as Europe/Zurich, "
            "America/New_York or UTC"
        )


def check_time_zone(name: str) -> str:
    """``name`` when it is a known IANA zone, else :class:`UnknownTimeZone`."""
    if not isinstance(name, str) or len(name) > MAX_ZONE_LENGTH or name not in known_zones():
        raise UnknownTimeZone(str(name))
    return name


@lru_cache(maxsize=256)
def zone(name: str | None) -> ZoneInfo:
    """The ``ZoneInfo`` of a checked name (UTC for None)."""
    return ZoneInfo(check_time_zone(name or "UTC"))
