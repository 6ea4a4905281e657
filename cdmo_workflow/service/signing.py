"""Gate sign-offs: an electronic signature re-authenticates at every signing (Part 11.200)."""

from __future__ import annotations

from collections.abc import Iterable

from cdmo_workflow.domain.errors import RuleViolation
from cdmo_workflow.domain.project import Change, Signer
from cdmo_workflow.service.context import Context
from cdmo_workflow.service.credentials import Credential
from cdmo_workflow.service.results import CommandResult
from cdmo_workflow.service.runner import Command, Step, execute, is_admin


def sign_gate(
    ctx: Context,
    code: str,
    gate: str,
    user: str,
    password: str | None,
    role: str,
    decision: str,
    meaning: str,
    comment: str | None = None,
    conditions: Iterable[str] = (),
    idempotency_key: str | None = None,
) -> CommandResult:
    """Record ``user``'s signature for ``role`` and decide the gate when its quotas are met.

    Wrong credentials count towards the lockout and are audited as refusals, with a security
    notification to the administrators and the project manager.
    """
    conds = list(conditions)
    attempted = {
        "gate": gate,
        "role": role,
        "decision": decision,
        "meaning": meaning,
        "comment": comment,
        "conditions": conds,
    }

    def apply(step: Step) -> Change:
        account = step.require_actor()
        if is_admin(account) and not ctx.settings.admins_may_sign:
            raise RuleViolation(
                "admin-may-not-sign",
                f"user {user!r} holds the admin role and may not sign gates "
                "(segregation of duties; a site may allow it with CDMO_ADMINS_MAY_SIGN=1)",
                user=user,
            )
        signer = Signer(user=account.user_id, name=account.name)
        return step.require_project().sign(
            gate, signer, role, decision, meaning, step.now, comment=comment, conditions=conds
        )

    return execute(
        ctx,
        Command(
            "gate.sign",
            Credential(user, password),
            gate,
            attempted,
            apply,
            project=code,
            idempotency_key=idempotency_key,
        ),
    )
