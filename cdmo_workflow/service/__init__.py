"""The service: one function per command, shared by the CLI, the flows and the UI forms.

Every state-changing command runs through ``runner.execute`` (authentication, idempotency,
the pure core, audit, outbox, versioned save, commit, hooks, audited refusal). The modules:

* ``context``   settings, the database port, post-commit hooks
* ``runner``    the one command runner
* ``authority`` who may run what, with which credential (the table the README shows)
* ``accounts``  administrators, users, one-time codes, sessions, targets
* ``projects``  project commands and read models
* ``signing``   gate e-signatures
* ``changes``   change requests (propose, submit, sign, withdraw), migrations, their reads
* ``people``    team changes, delegations, condition acceptance, quality-hold release,
  carried deliverables, task lists
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
    set_time_zone,
    system_actor,
    unlock_user,
)
from cdmo_workflow.service.audit import export_audit, rotate_audit_key, verify_audit
from cdmo_workflow.service.authority import ADMIN_ROLE, AUTHORITY, Authority
from cdmo_workflow.service.changes import (
    list_changes,
    migrate_project,
    migration_impact,
    propose_change,
    show_change,
    sign_change,
    submit_change,
    withdraw_change,
)
from cdmo_workflow.service.context import AfterCommit, Context, open_context
from cdmo_workflow.service.credentials import Credential
from cdmo_workflow.service.errors import Refused
from cdmo_workflow.service.people import (
    PeopleNow,
    accept_condition,
    carry_deliverable,
    change_team,
    grant_delegation,
    list_delegations,
    people_affected,
    people_and_board,
    people_now,
    projects_of,
    reject_condition,
    release_hold,
    revoke_delegation,
    signers_now,
    task_board,
    task_lists,
    tasks_document,
)
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
    "PeopleNow",
    "Refused",
    "Step",
    "accept_condition",
    "activate_account",
    "add_target",
    "add_user",
    "admin_init",
    "carry_deliverable",
    "change_password",
    "change_team",
    "close_condition",
    "confirm_check",
    "deactivate_user",
    "execute",
    "export_audit",
    "grant_delegation",
    "grant_role",
    "hold_project",
    "list_changes",
    "list_delegations",
    "list_projects",
    "list_users",
    "load_project",
    "login",
    "logout",
    "migrate_project",
    "migration_impact",
    "open_context",
    "people_affected",
    "people_and_board",
    "people_now",
    "project_exists",
    "project_status",
    "projects_of",
    "propose_change",
    "provision_user",
    "reject_condition",
    "release_hold",
    "remove_target",
    "reset_password",
    "resume_project",
    "revoke_delegation",
    "revoke_role",
    "rotate_audit_key",
    "set_time_zone",
    "show_change",
    "sign_change",
    "sign_gate",
    "signers_now",
    "start_project",
    "submit_change",
    "submit_deliverable",
    "system_actor",
    "task_board",
    "task_lists",
    "tasks_document",
    "unlock_user",
    "verify_audit",
    "withdraw_change",
]
