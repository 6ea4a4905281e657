"""Notifications: routing (event -> roles -> people), templates, the outbox relay, SLA watcher.

Only :mod:`.routing` and :mod:`.templates` are imported here; the relay and the watcher import
SQLAlchemy and apprise and are imported from their modules.
"""

from __future__ import annotations

from .routing import escalation_rows, outbox_rows, reminder_rows, roles_for

__all__ = ["escalation_rows", "outbox_rows", "reminder_rows", "roles_for"]
