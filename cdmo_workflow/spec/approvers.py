"""Who approves change requests when a process has no ``change_control:`` block. Pure."""

from __future__ import annotations

from .models import ProcessDef

CUSTOMER_ROLE = "customer"
"""The role that approves change requests by default, next to the manager role."""


def default_approver_roles(process: ProcessDef) -> list[str]:
    """Who approves a change request when the process has no ``change_control:`` block: the
    ``customer`` role when the process declares it, and the manager role."""
    roles = [CUSTOMER_ROLE] if CUSTOMER_ROLE in process.roles else []
    if process.manager_role not in roles:
        roles.append(process.manager_role)
    return roles
