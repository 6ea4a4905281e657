"""Change requests end to end from the CLI (SQLite and PostgreSQL): the re-baselined
forecast, the notifications at a real HTTP receiver, and the attacker's tries."""

from __future__ import annotations

import json

from tests.accounts import set_password

from .conftest import PASSWORD, WRONG, Repo, Site

SIGN = ("--decision", "approve", "--meaning", "approval")


def _count(site: Site) -> int:
    return int(site.sql("SELECT count(*) FROM audit_events")[0][0])


def test_a_change_request_end_to_end_with_notifications(site: Site, repo: Repo) -> None:
    site.start("CR-E2E")
    site.finish_design("CR-E2E")
    site("notify", "relay", "--once", password=None)
    assert site.receiver is not None
    seen = len(site.receiver.messages)
    before = json.loads(site("project", "forecast", "CR-E2E", "--json", password=None))
    out = site("change", "propose", "CR-E2E", "--by", "pm1", "--title", "Extra batch",
               "--reason", "Sponsor needs more material", "--schedule-impact", "2w",
               "--cost-impact", "42000.00", "--currency", "EUR")  # fmt: skip
    # A schedule and cost change touches no GMP phase and no sign-off: customer and pm only.
    assert "CR-1 proposed as a draft by pm1; approvers: customer × 1, pm × 1" in out
    site("change", "submit", "CR-E2E", "CR-1", "--by", "pm1")
    listing = site.json("change", "list", "CR-E2E")
    assert listing[0]["missing"] == [{"role": "customer", "needed": 1}, {"role": "pm", "needed": 1}]
    site("change", "sign", "CR-E2E", "CR-1", "--by", "cust1", "--role", "customer", *SIGN)
    out = site("change", "sign", "CR-E2E", "CR-1", "--by", "pm1", "--role", "pm", *SIGN)
    assert "CR-1 approved" in out and "baseline 1 set" in out and "42000.00 EUR" in out
    after = json.loads(site("project", "forecast", "CR-E2E", "--json", password=None))
    assert (before["baseline_number"], after["baseline_number"]) == (0, 1)
    assert after["slip_days"] == before["slip_days"] - 14
    status = site.status("CR-E2E")
    assert [b["number"] for b in status["baselines"]] == [0, 1]
    text = site("project", "status", "CR-E2E", password=None)
    assert "change request CR-1 [approved]: Extra batch" in text
    assert "baseline 1 (CR-1, set" in text
    assert status["change_requests"][0]["state"] == "approved"
    # Everyone hears of it at their own target, through the outbox and the relay.
    site("notify", "relay", "--once", password=None)
    got = site.receiver.wait_for(seen + 12)[seen:]
    by_subject: dict[str, set[str]] = {}
    for m in got:
        by_subject.setdefault(m.body["title"], set()).add(m.path.strip("/"))
    assert by_subject["[CR-E2E] Change request CR-1 proposed: Extra batch"] == {"pm1"}
    assert by_subject["[CR-E2E] Change request CR-1 needs your approval"] == {"cust1", "pm1"}
    assert by_subject["[CR-E2E] Change request CR-1 approved"] == {"cust1", "pm1"}
    assert by_subject["[CR-E2E] Change request CR-1 applied"] == {
        "pm1", "cust1", "qa1", "qa2", "mfg1"
    }  # fmt: skip
    applied = next(m for m in got if m.body["title"].endswith("CR-1 applied"))
    assert "New baseline 1" in applied.body["message"] and "42000.00 EUR" in applied.body["message"]
    assert any("signed change request CR-1" in t for t in by_subject)
    out = site("audit", "verify", "CR-E2E", "--deep", password=None)
    assert "every project document matches its trail" in out
    printout = site("audit", "export", "CR-E2E", "--format", "csv", password=None)
    assert "Carl Sponsor (cust1, role customer)" in printout and "decision: approve" in printout


def test_bad_input_is_refused_with_its_rule_and_one_audit_row(site: Site, repo: Repo) -> None:
    site.start("CR-BAD")
    site("change", "propose", "CR-BAD", "--by", "pm1", "--title", "t", "--reason", "r")
    cases = [
        (["change", "submit", "CR-BAD", "CR-1", "--by", "mfg1"], "not-proposer"),
        (["change", "sign", "CR-BAD", "CR-1", "--by", "cust1", "--role", "customer", *SIGN],
         "change-not-submitted"),
        (["change", "submit", "CR-BAD", "CR-7", "--by", "pm1"], "unknown change request"),
        (["change", "propose", "CR-BAD", "--by", "mfg2", "--title", "t", "--reason", "r"],
         "not-on-team"),
    ]  # fmt: skip
    for args, rule in cases:
        before = _count(site)
        out = site(*args, code=1)
        assert rule in out, (args, out)
        assert _count(site) == before + 1, args  # exactly one audit row per refusal
    site("change", "submit", "CR-BAD", "CR-1", "--by", "pm1")
    cases = [
        (["change", "sign", "CR-BAD", "CR-1", "--by", "qa1", "--role", "qa", *SIGN],
         "role-not-approver"),
        (["change", "sign", "CR-BAD", "CR-1", "--by", "qa1", "--role", "customer", *SIGN],
         "not-assigned-to-role"),
        (["change", "sign", "CR-BAD", "CR-1", "--by", "admin1", "--role", "customer", *SIGN],
         "admin-may-not-sign"),
        (["change", "sign", "CR-BAD", "CR-1", "--by", "cust1", "--role", "customer",
          "--decision", "reject", "--meaning", "approval"], "reject-needs-reason"),
    ]  # fmt: skip
    for args, rule in cases:
        before = _count(site)
        out = site(*args, code=1)
        assert rule in out, (args, out)
        assert _count(site) == before + 1, args  # exactly one audit row per refusal
    site("change", "sign", "CR-BAD", "CR-1", "--by", "cust1", "--role", "customer", *SIGN)
    out = site("change", "sign", "CR-BAD", "CR-1", "--by", "cust1", "--role", "customer", *SIGN,
               code=1)  # fmt: skip
    assert "already-signed" in out
    site("change", "withdraw", "CR-BAD", "CR-1", "--by", "pm1", "--reason", "overtaken")
    out = site("change", "sign", "CR-BAD", "CR-1", "--by", "pm1", "--role", "pm", *SIGN, code=1)
    assert "change-withdrawn" in out
    # A killed project takes no change request.
    for d in ("spec", "risk"):
        site("deliverable", "submit", "CR-BAD", "design", d, "--by", "pm1", "--evidence", "X")
    site("gate", "sign", "CR-BAD", "design-go", "--by", "qa1", "--role", "qa", "--decision",
         "kill", "--meaning", "approval", "--comment", "no market")  # fmt: skip
    site("gate", "sign", "CR-BAD", "design-go", "--by", "cust1", "--role", "customer",
         "--decision", "kill", "--meaning", "approval", "--comment", "agreed")  # fmt: skip
    assert site.status("CR-BAD")["state"] == "killed"
    out = site("change", "propose", "CR-BAD", "--by", "pm1", "--title", "t", "--reason", "r",
               code=1)  # fmt: skip
    assert "project-closed" in out
    assert site.audit("CR-BAD")[-1] == ("pm1", "change.propose", "refused", "project-closed")


def test_attackers_are_refused(site: Site, repo: Repo) -> None:
    site.start("CR-SEC")
    site("change", "propose", "CR-SEC", "--by", "pm1", "--title", "t", "--reason", "r")
    site("change", "submit", "CR-SEC", "CR-1", "--by", "pm1")
    set_password(site.db_url, "cust1", "carls-own-secret-1")
    # Someone else's --by: qa1 signs as the customer with qa1's own password.
    out = site("change", "sign", "CR-SEC", "CR-1", "--by", "cust1", "--role", "customer", *SIGN,
               password=PASSWORD, code=1)  # fmt: skip
    assert "authentication-failed" in out and "cust1" in out
    assert site.sql("SELECT failed_attempts FROM users WHERE user_id = 'cust1'")[0][0] == 1
    out = site("change", "propose", "CR-SEC", "--by", "cust1", "--title", "t", "--reason", "r",
               code=1)  # fmt: skip
    assert "authentication-failed" in out
    # A session never signs: `cdmo login`, then `change sign` without the password.
    site("login", "cust1", password="carls-own-secret-1")
    out = site("change", "sign", "CR-SEC", "CR-1", "--by", "cust1", "--role", "customer", *SIGN,
               password=None, code=1)  # fmt: skip
    assert "password-required" in out
    assert site.audit("CR-SEC")[-1] == ("cust1", "change.sign", "refused", "password-required")
    # ... though a session may propose (not a signature).
    out = site("change", "propose", "CR-SEC", "--by", "cust1", "--title", "Label text",
               "--reason", "r", password=None)  # fmt: skip
    assert "CR-2 proposed" in out
    # A missing or wrong credential, for each change command.
    for args in (
        ["change", "propose", "CR-SEC", "--by", "pm1", "--title", "t", "--reason", "r"],
        ["change", "submit", "CR-SEC", "CR-2", "--by", "pm1"],
        ["change", "withdraw", "CR-SEC", "CR-2", "--by", "pm1", "--reason", "r"],
        ["change", "sign", "CR-SEC", "CR-1", "--by", "pm1", "--role", "pm", *SIGN],
        ["project", "migrate", "CR-SEC", "--to-version", "c2", "--by", "pm1"],
    ):
        before = _count(site)
        out = site(*args, password=None, code=1)
        assert "credential-required" in out or "password-required" in out, args
        out = site(*args, password=WRONG, code=1)
        assert "authentication-failed" in out, args
        assert _count(site) == before + 2, args
    out = site("change", "submit", "CR-SEC", "CR-2", "--by", "pm1", code=1)
    assert "account-locked" in out  # five wrong passwords in a row lock the account
    site("users", "unlock", "pm1", "--by", "admin1")
    # A replayed idempotency key: the same request once; other arguments are refused.
    key = ["--idempotency-key", "cr-sec-key-1"]
    site("change", "propose", "CR-SEC", "--by", "pm1", "--title", "Once", "--reason", "r", *key)
    out = site("change", "propose", "CR-SEC", "--by", "pm1", "--title", "Once", "--reason", "r",
               *key)  # fmt: skip
    assert "already applied" in out
    out = site("change", "propose", "CR-SEC", "--by", "pm1", "--title", "Twice", "--reason", "r",
               *key, code=1)  # fmt: skip
    assert "idempotency-key-reused" in out
    assert [c["title"] for c in site.json("change", "list", "CR-SEC")].count("Once") == 1
    # Over-long and markup-laden text.
    out = site("change", "propose", "CR-SEC", "--by", "pm1", "--title", "T" * 201, "--reason",
               "r", code=1)  # fmt: skip
    assert "field-too-long" in out and "T" * 50 not in out
    out = site("change", "propose", "CR-SEC", "--by", "pm1", "--title", "t", "--reason",
               "R" * 2001, code=1)  # fmt: skip
    assert "field-too-long" in out
    nasty = "[bold red]PWNED[/] \x1b[2J <script>x</script> =HYPERLINK(1)"
    site("change", "propose", "CR-SEC", "--by", "pm1", "--title", nasty, "--reason", nasty)
    stored = next(c for c in site.json("change", "list", "CR-SEC") if "PWNED" in c["title"])
    assert stored["title"] == nasty  # kept exactly as given
    shown = site("change", "list", "CR-SEC", password=None)
    assert "PWNED" in shown and "[bold" in shown  # the markup is shown as text, not run
    assert "\x1b" not in shown
    text = site("change", "show", "CR-SEC", stored["id"], password=None)
    assert "\x1b" not in text and "[bold red]PWNED[/]" in text
    csv = site("audit", "export", "CR-SEC", "--format", "csv", password=None)
    assert ",=HYPERLINK" not in csv and ',"=HYPERLINK' not in csv
    # Tampering behind the engine: the deep check and the signature link both see it.
    site("change", "sign", "CR-SEC", "CR-1", "--by", "pm1", "--role", "pm", *SIGN)
    doc = site.sql("SELECT document FROM projects WHERE code = 'CR-SEC'")[0][0]
    doc = json.loads(doc) if isinstance(doc, str) else doc
    doc["change_requests"][0]["title"] = "A different change"
    site.sql("UPDATE projects SET document = :d WHERE code = 'CR-SEC'", d=json.dumps(doc))
    shown = site.json("change", "show", "CR-SEC", "CR-1")
    assert shown["signatures"][0]["linked"] is False
    assert "NOT LINKED" in site("change", "show", "CR-SEC", "CR-1", password=None)
    out = site("audit", "verify", "CR-SEC", "--deep", password=None, code=1)
    assert "change request CR-1 differently from the document" in out
