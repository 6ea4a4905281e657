"""Access control, tried as an attacker would: every change needs an authenticated person
acting within their authority (Part 11 §11.10(d), (g), §11.300). SQLite and PostgreSQL."""

from __future__ import annotations

from tests.accounts import code_in

from .conftest import PASSWORD, WRONG, Site

# ---------------------------------------------------------------------- the forgery path


def test_nobody_creates_an_administrator_without_one(site: Site) -> None:
    before = len(site.audit())
    out = site("users", "add", "mallory", "--name", "Mallory", "--role", "admin",
               "--by", "mallory", "--notify", "json://127.0.0.1:9/x", code=1)  # fmt: skip
    assert "credential-required" in out
    out = site("users", "add", "mallory", "--name", "Mallory", "--role", "admin",
               "--by", "mallory", "--notify", "json://127.0.0.1:9/x",
               password="anything-at-all", code=1)  # fmt: skip
    assert "authentication-failed" in out
    out = site("users", "add", "mallory", "--name", "Mallory", "--role", "admin",
               "--by", "pm1", "--notify", "json://127.0.0.1:9/x",
               password=PASSWORD, code=1)  # fmt: skip
    assert "not-admin" in out
    out = site("admin", "init", "mallory", "--name", "M", code=1, env={"CDMO_PASSWORD": WRONG})
    assert "admin-exists" in out
    rows = site.audit()[before:]
    assert rows == [
        ("mallory", "user.add", "refused", "credential-required"),
        ("mallory", "user.add", "refused", "authentication-failed"),
        ("pm1", "user.add", "refused", "not-admin"),
        (rows[3][0], "admin.init", "refused", "admin-exists"),
    ]
    assert not site.sql("SELECT 1 FROM users WHERE user_id = 'mallory'")


def test_reset_with_a_wrong_admin_password_is_refused(site: Site) -> None:
    out = site("users", "reset-password", "pm1", "--by", "admin1", password=WRONG, code=1)
    assert "authentication-failed" in out and "admin1" in out
    assert site.audit()[-1] == ("admin1", "user.reset-password", "refused", "authentication-failed")
    site("login", "pm1", password=PASSWORD)  # pm1's password still works


def test_what_the_administrator_sees_never_signs_as_the_user(project: Site) -> None:
    site = project
    out = site("users", "reset-password", "qa1", "--by", "admin1", password=PASSWORD)
    assert "one-time code was sent" in out
    listing = site("notify", "list", "--json") + site("users", "list", "--json")
    assert site.receiver is not None
    # The administrator learns nothing that signs: the old password is dead, no code is shown,
    # nothing they can type sets the password.
    out = site("gate", "sign", "SEC-1", "build-go", "--by", "qa1", "--role", "qa",
               "--decision", "go", "--meaning", "approval", password=PASSWORD, code=1)  # fmt: skip
    assert "no-password" in out
    out = site("users", "passwd", "qa1", code=1,
               env={"CDMO_PASSWORD": PASSWORD, "CDMO_NEW_PASSWORD": "admin-chosen-99"})  # fmt: skip
    assert "no-password" in out
    out = site("users", "activate", "qa1", code=1,
               env={"CDMO_ONE_TIME_CODE": "ABCD-EFGH-JKLM",
                    "CDMO_NEW_PASSWORD": "admin-chosen-99"})  # fmt: skip
    assert "code-invalid" in out
    # Only the user's own target receives the code.
    before = len(site.receiver.messages)
    site("notify", "relay", "--once")
    got = [
        m for m in site.receiver.wait_for(before + 1)[before:] if "one-time code is" in str(m.body)
    ]
    assert [m.path for m in got] == ["/qa1"]
    code = code_in(got[0])
    assert code not in listing and code not in out
    # Delivered codes leave the outbox; only the hash stays.
    payloads = " ".join(str(r[0]) for r in site.sql("SELECT payload FROM outbox"))
    assert code not in payloads
    stored = " ".join(str(r) for r in site.sql("SELECT * FROM one_time_codes"))
    assert code not in stored
    site("users", "activate", "qa1", env={"CDMO_ONE_TIME_CODE": code,
                                          "CDMO_NEW_PASSWORD": "qa1-own-secret-7"})  # fmt: skip
    site("gate", "sign", "SEC-1", "build-go", "--by", "qa1", "--role", "qa",
         "--decision", "go", "--meaning", "approval", password="qa1-own-secret-7")  # fmt: skip
    assert ("qa1", "user.activate", "refused", "code-invalid") in site.audit()


def test_a_user_without_a_target_cannot_be_reset(site: Site) -> None:
    site.sql("DELETE FROM user_targets WHERE user_id = 'mfg1'")
    out = site("users", "reset-password", "mfg1", "--by", "admin1", password=PASSWORD, code=1)
    assert "no-notification-target" in out and "deactivate" in out
    assert site.audit()[-1] == (
        "admin1",
        "user.reset-password",
        "refused",
        "no-notification-target",
    )


def test_administrators_do_not_administer_themselves_and_do_not_sign(project: Site) -> None:
    site = project
    out = site("users", "unlock", "admin1", "--by", "admin1", password=PASSWORD, code=1)
    assert "self-administration" in out
    site("users", "grant", "admin2", "qa", "--by", "admin1", password=PASSWORD)
    site("project", "start", "SEC-2", "--process", "mini", "--customer", "Acme",
         "--team", "pm=pm1", "--team", "qa=admin2", "--team", "mfg=mfg1",
         "--by", "pm1", password=PASSWORD)  # fmt: skip
    for d in ("d1", "d2", "d3", "d4"):
        site("deliverable", "submit", "SEC-2", "build", d, "--by", "mfg1", "--evidence", "X",
             password=PASSWORD)  # fmt: skip
    out = site("gate", "sign", "SEC-2", "build-go", "--by", "admin2", "--role", "qa",
               "--decision", "go", "--meaning", "approval", password=PASSWORD, code=1)  # fmt: skip
    assert "admin-may-not-sign" in out
    assert site.audit("SEC-2")[-1] == ("admin2", "gate.sign", "refused", "admin-may-not-sign")
    site("gate", "sign", "SEC-2", "build-go", "--by", "admin2", "--role", "qa",
         "--decision", "go", "--meaning", "approval", password=PASSWORD,
         env={"CDMO_ADMINS_MAY_SIGN": "1"})  # fmt: skip


# ---------------------------------------------------------------------- every command


def _commands() -> list[tuple[str, list[str]]]:
    return [
        ("deliverable.submit", ["deliverable", "submit", "SEC-1", "release", "r1", "--by",
                                "mfg1", "--evidence", "X"]),
        ("check.confirm", ["check", "confirm", "SEC-1", "build-go", "none", "--by", "qa1",
                           "--evidence", "X"]),
        ("condition.close", ["condition", "close", "SEC-1", "C1", "--by", "pm1",
                             "--evidence", "X"]),
        ("project.hold", ["project", "hold", "SEC-1", "--by", "pm1", "--reason", "r"]),
        ("project.resume", ["project", "resume", "SEC-1", "--by", "pm1", "--reason", "r"]),
        ("project.start", ["project", "start", "SEC-9", "--process", "mini", "--customer",
                           "A", "--team", "pm=pm1", "--team", "qa=qa1", "--team", "mfg=mfg1",
                           "--by", "pm1"]),
        ("gate.sign", ["gate", "sign", "SEC-1", "build-go", "--by", "qa1", "--role", "qa",
                       "--decision", "go", "--meaning", "approval"]),
        ("user.unlock", ["users", "unlock", "pm1", "--by", "admin1"]),
        ("user.reset-password", ["users", "reset-password", "pm1", "--by", "admin1"]),
        ("user.deactivate", ["users", "deactivate", "pm1", "--by", "admin1", "--reason", "r"]),
        ("user.grant", ["users", "grant", "pm1", "qa", "--by", "admin1"]),
        ("user.revoke", ["users", "revoke", "pm1", "pm", "--by", "admin1"]),
        ("user.add", ["users", "add", "eve", "--name", "Eve", "--role", "qa", "--by", "admin1",
                      "--notify", "json://127.0.0.1:9/eve"]),
        ("user.notify-add", ["users", "notify", "add", "pm1", "json://127.0.0.1:9/pm"]),
        ("change.propose", ["change", "propose", "SEC-1", "--by", "pm1", "--title", "t",
                            "--reason", "r"]),
        ("change.sign", ["change", "sign", "SEC-1", "CR-1", "--by", "pm1", "--role", "pm",
                         "--decision", "approve", "--meaning", "approval"]),
    ]  # fmt: skip


COMMANDS = _commands()
STALE_PG = "UPDATE sessions SET last_used_at = created_at - INTERVAL '20 minutes'"
STALE_SQLITE = "UPDATE sessions SET last_used_at = datetime(created_at, '-20 minutes')"


def _actor(args: list[str]) -> str:
    return args[args.index("--by") + 1] if "--by" in args else args[3]


def test_every_command_refuses_a_missing_or_wrong_credential(project: Site) -> None:
    site = project
    for action, args in COMMANDS:
        actor = _actor(args)
        chain = "SEC-1" if "SEC-1" in args else "_system"
        before = site.sql("SELECT count(*) FROM audit_events")[0][0]
        out = site(*args, code=1)
        assert "credential-required" in out or "password-required" in out, action
        assert actor in out, action
        out = site(*args, password=WRONG, code=1)
        assert "authentication-failed" in out, action
        after = site.sql("SELECT count(*) FROM audit_events")[0][0]
        assert after == before + 2, action  # exactly one audit row per refusal
        rows = site.audit(chain)[-2:]
        assert [r[1:3] for r in rows] == [(action, "refused"), (action, "refused")], action
        failed = site.sql("SELECT failed_attempts FROM users WHERE user_id = :u", u=actor)[0][0]
        assert failed >= 1, action  # the wrong password counts towards the lockout
        site.sql("UPDATE users SET failed_attempts = 0")


def test_every_command_refuses_an_expired_session(project: Site) -> None:
    site = project
    for action, args in COMMANDS:
        actor = _actor(args)
        site("login", actor, password=PASSWORD)
        site.sql(STALE_PG if "postgresql" in site.db_url else STALE_SQLITE)
        out = site(*args, code=1)
        if action in ("gate.sign", "change.sign"):
            assert "password-required" in out  # a session never signs
        else:
            assert "session-expired" in out and "idle" in out, action
        assert site.audit("SEC-1" if "SEC-1" in args else "_system")[-1][2] == "refused"


def test_a_session_works_until_logout_and_ends_on_password_change(project: Site) -> None:
    site = project
    out = site("login", "pm1", password=PASSWORD)
    assert "signed in as pm1" in out
    import os
    import stat
    from pathlib import Path

    path = Path(site.env["CDMO_SESSION_FILE"])
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    token = path.read_text()
    assert not any(token.split('"')[-2] in str(r) for r in site.sql("SELECT * FROM sessions"))
    site("project", "hold", "SEC-1", "--by", "pm1", "--reason", "supplier audit")
    site("users", "passwd", "pm1", env={"CDMO_PASSWORD": PASSWORD,
                                        "CDMO_NEW_PASSWORD": "pm1-next-secret-8"})  # fmt: skip
    out = site("project", "resume", "SEC-1", "--by", "pm1", "--reason", "done", code=1)
    assert "session-revoked" in out
    site("login", "pm1", password="pm1-next-secret-8")
    site("project", "resume", "SEC-1", "--by", "pm1", "--reason", "done")
    site("logout", "pm1")
    out = site("project", "hold", "SEC-1", "--by", "pm1", "--reason", "again", code=1)
    assert "credential-required" in out


def test_a_stolen_session_file_does_not_act_for_another_user(project: Site) -> None:
    site = project
    site("login", "mfg1", password=PASSWORD)
    from pathlib import Path

    path = Path(site.env["CDMO_SESSION_FILE"])
    path.write_text(path.read_text().replace(":mfg1", ":pm1"))  # mfg1's token, pm1's name
    out = site("project", "hold", "SEC-1", "--by", "pm1", "--reason", "x", code=1)
    assert "session-invalid" in out
    assert site.sql("SELECT failed_attempts FROM users WHERE user_id = 'pm1'")[0][0] == 1


# ---------------------------------------------------------------------- lockout


def test_lockout_cannot_be_bypassed(project: Site) -> None:
    site = project
    for _ in range(5):
        site("project", "hold", "SEC-1", "--by", "pm1", "--reason", "x", password=WRONG, code=1)
    out = site("project", "hold", "SEC-1", "--by", "pm1", "--reason", "x", password=PASSWORD,
               code=1)  # fmt: skip
    assert "account-locked" in out
    # Unlocking needs an authenticated administrator: pm1 cannot, nor a wrong admin password.
    assert "not-admin" in site("users", "unlock", "pm1", "--by", "qa1", password=PASSWORD, code=1)
    site("users", "unlock", "pm1", "--by", "admin1", password=WRONG, code=1)
    assert site.sql("SELECT locked FROM users WHERE user_id = 'pm1'")[0][0]
    site("users", "unlock", "pm1", "--by", "admin1", password=PASSWORD)
    site("project", "hold", "SEC-1", "--by", "pm1", "--reason", "x", password=PASSWORD)
    rows = site.audit()
    assert ("admin1", "user.unlock", "accepted", None) in rows
    assert ("qa1", "user.unlock", "refused", "not-admin") in rows


# ---------------------------------------------------------------------- targets


def test_only_the_user_changes_their_targets_and_the_old_ones_are_told(project: Site) -> None:
    site = project
    assert site.receiver is not None
    out = site("users", "notify", "add", "qa1", "json://127.0.0.1:9/mallory",
               env={"CDMO_PASSWORD": PASSWORD, "CDMO_SESSION_FILE": "/nonexistent/x"},
               code=0)  # fmt: skip
    assert "added" in out
    site.sql("DELETE FROM user_targets WHERE url LIKE '%mallory%'")
    out = site("users", "notify", "add", "qa1", "notaurl://x", password=PASSWORD, code=1)
    assert "invalid-notify-url" in out
    site("login", "pm1", password=PASSWORD)
    out = site("users", "notify", "add", "qa1", "json://127.0.0.1:9/mallory",
               env={"CDMO_PASSWORD": ""}, code=1)  # fmt: skip
    assert "credential-required" in out
    before = len(site.receiver.messages)
    site("notify", "relay", "--once")
    told = [m for m in site.receiver.wait_for(before + 1)[before:] if "target" in str(m.body)]
    assert [m.path for m in told] == ["/qa1"]
