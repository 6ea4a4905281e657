"""Cross-checks of a process's ``change_control:`` block (who approves change requests)."""

from __future__ import annotations

import difflib

from .approvers import CUSTOMER_ROLE
from .findings import _Report, _Source
from .models import ProcessDef


def check_change_control(src: _Source, proc: ProcessDef, report: _Report) -> None:
    """Roles declared, one quota per role, one quota that always applies, ``when: [gmp]``
    only where a phase is GMP; without the block, say who approves when there is no
    customer role."""
    block = proc.change_control
    declared = sorted(proc.roles)
    if block is None:
        if CUSTOMER_ROLE not in proc.roles:
            report.add(
                src,
                ("roles",),
                f"process {proc.id} has no change_control block and declares no "
                f"'{CUSTOMER_ROLE}' role: change requests are approved by the manager role "
                f"'{proc.manager_role}' alone; add a change_control block to say who approves",
                "change-control-default",
                severity="warning",
                field_name="change_control",
            )
        return
    seen: dict[str, int] = {}
    for i, quota in enumerate(block.approvers):
        path = ("change_control", "approvers", i, "role")
        if quota.role not in proc.roles:
            hint = difflib.get_close_matches(quota.role, declared, n=1)
            extra = f"; did you mean '{hint[0]}'?" if hint else ""
            report.add(
                src,
                path,
                f"unknown role {quota.role!r} (declared roles: {', '.join(declared)}{extra})",
                "undeclared-role",
            )
        if quota.role in seen:
            line = src.doc.mark(("change_control", "approvers", seen[quota.role], "role"))[0]
            report.add(
                src,
                path,
                f"duplicate approver quota for role {quota.role!r} (first at line {line})",
                "duplicate-id",
            )
        else:
            seen[quota.role] = i
        if "gmp" in quota.when and not any(p.gmp for p in proc.phases):
            report.add(
                src,
                ("change_control", "approvers", i, "when"),
                f"no phase of process {proc.id} is marked gmp: true, so this quota never "
                "applies for 'gmp'",
                "change-control",
                severity="warning",
            )
    if all(q.when for q in block.approvers):
        report.add(
            src,
            ("change_control", "approvers"),
            "every approver quota has a `when`: a change that touches none of them would need "
            "no approval; give at least one quota without `when` (e.g. the customer)",
            "change-control",
        )
