"""Account notices: outbox rows to one user (one-time codes, changes made to their account).

They use the ``account`` notify event, whose template prints the subject and body given here.
"""

from __future__ import annotations

from typing import Any

ACCOUNT_EVENT = "account"


def notice(user: str, kind: str, subject: str, body: str, **data: Any) -> dict[str, Any]:
    """One outbox row (without its dedup key: the runner adds it from the audit sequence)."""
    return {
        "event": f"account.{kind}",
        "notify_event": ACCOUNT_EVENT,
        "project": None,
        "gate": None,
        "recipient": user,
        "payload": {
            "notify_event": ACCOUNT_EVENT,
            "project": None,
            "recipient": user,
            "data": {"kind": kind, "subject": subject, "body": body, **data},
        },
    }


def code_notice(user: str, purpose: str, code: str, hours: int) -> dict[str, Any]:
    """The one-time code, to the user's own targets only; never shown to an administrator."""
    why = "activate your new account" if purpose == "enrol" else "set a new password"
    return notice(
        user,
        "code",
        f"[cdmo] Your one-time code to {why}",
        f"Your one-time code is {code}\n\n"
        f"It is valid for {hours} hours and can only set a new password. Run\n"
        f"    cdmo users activate {user}\n"
        "and enter the code and your new password. If you did not expect this message, "
        "tell your QA or IT security contact.",
        purpose=purpose,
        code=code,
    )
