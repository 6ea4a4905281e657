"""The service: one function per command, shared by the CLI, the flows and the UI forms.

Every state-changing command runs through ``runner.execute`` (authentication, idempotency,
the pure core, audit, outbox, versioned save, commit, hooks, audited refusal). The modules:

* ``context``   settings, the database port, post-commit hooks
* ``runner``    the one command runner
* ``authority`` who may run what, with which credential (the table the README shows)
* ``accounts``  administrators, users, one-time codes, sessions, targets
* ``projects``  project commands and read models
* ``signing``   gate e-signatures
* ``audit``     verification and export of the trail
"""

from cdmo_workflow.service.accounts import (
    activate_account,
    add_target,
    add_user,
    admin_init,
    change_password,
    deactivate_user,
    grant_role,
    list_users,
    login,
    logout,
    provision_user,
    remove_target,
    reset_password,
    revoke_role,
    system_actor,
    unlock_user,
)
from cdmo_workflow.service.audit import export_audit, rotate_audit_key, verify_audit
from cdmo_workflow.service.authority import ADMIN_ROLE, AUTHORITY, Authority
from cdmo_workflow.service.context import AfterCommit, Context, open_context
from cdmo_workflow.service.credentials import Credential
from cdmo_workflow.service.errors import Refused
from cdmo_workflow.service.projects import (
    close_condition,
    confirm_check,
    hold_project,
    list_projects,
    load_project,
    project_exists,
    project_status,
    resume_project,
    start_project,
    submit_deliverable,
)
from cdmo_workflow.service.results import CommandResult
from cdmo_workflow.service.runner import MAX_RETRIES, SYSTEM_CHAIN, Command, Step, execute
from cdmo_workflow.service.signing import sign_gate

__all__ = [
    "ADMIN_ROLE",
    "AUTHORITY",
    "MAX_RETRIES",
    "SYSTEM_CHAIN",
    "AfterCommit",
    "Authority",
    "Command",
    "CommandResult",
    "Context",
    "Credential",
    "Refused",
    "Step",
    "activate_account",
    "add_target",
    "add_user",
    "admin_init",
    "change_password",
    "close_condition",
    "confirm_check",
    "deactivate_user",
    "execute",
    "export_audit",
    "grant_role",
    "hold_project",
    "list_projects",
    "list_users",
    "load_project",
    "login",
    "logout",
    "open_context",
    "project_exists",
    "project_status",
    "provision_user",
    "remove_target",
    "reset_password",
    "resume_project",
    "revoke_role",
    "rotate_audit_key",
    "sign_gate",
    "start_project",
    "submit_deliverable",
    "system_actor",
    "unlock_user",
    "verify_audit",
]
