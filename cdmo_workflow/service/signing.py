"""Gate sign-offs: an electronic signature re-authenticates at every signing (Part 11.200)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from cdmo_workflow.domain.errors import RuleViolation
from cdmo_workflow.domain.project import Change, Signer
from cdmo_workflow.service.context import Context
from cdmo_workflow.service.credentials import Credential
from cdmo_workflow.service.results import CommandResult
from cdmo_workflow.service.runner import Command, Step, execute, is_admin

if TYPE_CHECKING:
    from cdmo_workflow.store.users import StoredUser


def refuse_admin_signer(ctx: Context, account: StoredUser, user: str, what: str) -> None:
    """An administrator does not sign (segregation of duties) unless the site allows it:
    gate sign-offs and change-request approvals alike."""
    if is_admin(account) and not ctx.settings.admins_may_sign:
        raise RuleViolation(
            "admin-may-not-sign",
            f"user {user!r} holds the admin role and may not {what} "
            "(segregation of duties; a site may allow it with CDMO_ADMINS_MAY_SIGN=1)",
            user=user,
        )


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
    *,
    on_behalf_of: str | None = None,
    condition_owner: Sequence[str] = (),
    condition_due: Sequence[str] = (),
    condition_blocks: Sequence[str] = (),
) -> CommandResult:
    """Record ``user``'s signature for ``role`` and decide the gate when its quotas are met.

    Wrong credentials count towards the lockout and are audited as refusals, with a security
    notification to the administrators and the project manager. With ``on_behalf_of`` the
    user signs as the delegate of that person, under the delegation from them in force now.
    """
    conds = list(conditions)
    attempted: dict[str, object] = {
        "gate": gate,
        "role": role,
        "decision": decision,
        "meaning": meaning,
        "comment": comment,
        "conditions": conds,
    }
    extra = {
        "on_behalf_of": on_behalf_of,
        "condition_owner": list(condition_owner),
        "condition_due": list(condition_due),
        "condition_blocks": list(condition_blocks),
    }
    attempted.update({k: v for k, v in extra.items() if v})

    def apply(step: Step) -> Change:
        account = step.require_actor()
        refuse_admin_signer(ctx, account, user, "sign gates")
        signer = Signer(user=account.user_id, name=account.name)
        project = step.require_project()
        delegation, delegator_name = None, None
        if on_behalf_of:
            from cdmo_workflow.service.people import delegation_for_signature

            delegation, delegator_name = delegation_for_signature(
                step.uow, on_behalf_of, account, role, project.code, step.now
            )
        return project.sign(
            gate,
            signer,
            role,
            decision,
            meaning,
            step.now,
            comment=comment,
            conditions=conds,
            condition_owner=list(condition_owner),
            condition_due=list(condition_due),
            condition_blocks=list(condition_blocks),
            on_behalf_of=on_behalf_of or None,
            on_behalf_of_name=delegator_name,
            delegation=delegation,
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
