"""Projects on the first commit of a real definitions repository: diff, migrate under
approved change requests, every refusal, and the deep replay of a migrated project.
SQLite and PostgreSQL, through the real `cdmo` command."""

from __future__ import annotations

import json

from .conftest import WRONG, Repo, Site


def _approve(site: Site, code: str, cr: str, *signers: tuple[str, str]) -> str:
    out = ""
    for user, role in signers:
        out = site("change", "sign", code, cr, "--by", user, "--role", role, "--decision",
                   "approve", "--meaning", "approval")  # fmt: skip
    return out


def test_diff_names_each_change_in_domain_terms(site: Site, repo: Repo) -> None:
    out = site("definitions", "diff", "c1", "c2", password=None)
    assert "gate build-go: changed (used by cr-demo)" in out
    assert "quota qa × 1 becomes qa × 2" in out
    assert "process cr-demo: changed" in out and "gates changed: build-go" in out
    out = site("definitions", "diff", "c2", "c3", password=None)
    assert "+ phase stability is new after build (gate stability-go)" in out
    assert "phase release: now after stability; no longer after build" in out
    assert "gate stability-go: added" in out
    out = site("definitions", "diff", "c3", "c4", password=None)
    assert "- phase design is removed" in out
    assert "phase build: no longer after design" in out
    assert "gate design-go: removed" in out
    doc = json.loads(site("definitions", "diff", "c1", "c4", "--json", password=None))
    kinds = {c["kind"] for p in doc["processes"] for c in p["changes"]}
    assert {"phase-added", "phase-removed", "after-changed"} <= kinds
    assert doc["old"]["commit"] == repo.commits["c1"] and doc["new"]["commit"] == repo.commits["c4"]
    # The same tree in a folder and at its commit: nothing changed.
    out = site("definitions", "diff", "c1", str(repo.path), password=None)
    assert "no change of meaning" in out
    # The work tree was never checked out: it still holds the first commit.
    assert "design" in (repo.path / "definitions" / "cr-demo.yaml").read_text()
    assert not (repo.path / "gates" / "stability-go.yaml").exists()


def test_a_raised_quota_keeps_the_signatures_given_so_far(site: Site, repo: Repo) -> None:
    site.start("MIG-1")
    site.finish_design("MIG-1")
    site.open_build("MIG-1")
    site("gate", "sign", "MIG-1", "build-go", "--by", "qa1", "--role", "qa", "--decision", "go",
         "--meaning", "approval")  # fmt: skip
    # What the diff says about the running project, and the dry run, agree.
    out = site("definitions", "diff", "c1", "c2", "--projects", password=None)
    assert "project MIG-1 (cr-demo, active, on the old version" in out and "can move" in out
    assert f"on the old version {site.status('MIG-1')['process']['version_hash'][:12]})" in out
    assert "signatures given so far still count (qa1)" in out
    dry = json.loads(site("project", "migrate", "MIG-1", "--to-version", "c2", "--dry-run",
                          "--json", password=None))  # fmt: skip
    assert dry["migratable"] and dry["gates"][0]["review"] == "kept"
    # Without an approved change request, no migration.
    out = site("project", "migrate", "MIG-1", "--to-version", "c2", "--by", "pm1", code=1)
    assert "no-approved-change" in out
    assert site.audit("MIG-1")[-1] == ("pm1", "project.migrate", "refused", "no-approved-change")
    # The change request: the quota and a GMP phase are touched, so QA approves too.
    out = site("change", "propose", "MIG-1", "--by", "pm1", "--title", "Second QA reviewer",
               "--reason", "Sponsor audit finding", "--to-version", "c2")  # fmt: skip
    assert "CR-1 proposed as a draft" in out and "qa × 1" in out
    site("change", "submit", "MIG-1", "CR-1", "--by", "pm1")
    _approve(site, "MIG-1", "CR-1", ("cust1", "customer"), ("pm1", "pm"))
    out = _approve(site, "MIG-1", "CR-1", ("qa2", "qa"))
    assert "CR-1 approved" in out and "project moved to version" in out
    status = site.status("MIG-1")
    build = next(g for g in status["gates"] if g["id"] == "build-go")
    assert build["state"] == "open"
    assert [s["user"] for s in build["signatures"]] == ["qa1"]
    assert build["missing"] == [{"role": "qa", "needed": 1}, {"role": "mfg", "needed": 1}]
    stored = site.sql("SELECT version_hash FROM projects WHERE code = 'MIG-1'")[0][0]
    assert stored == status["process"]["version_hash"]
    assert status["process"]["git_commit"] == repo.commits["c2"]
    # The audit row of the approving signature records both version hashes.
    row = site.sql("SELECT old, new FROM audit_events WHERE chain = 'MIG-1' AND action = "
                   "'change.sign' AND outcome = 'accepted' ORDER BY seq DESC")[0]  # fmt: skip
    old, new = (json.loads(x) if isinstance(x, str) else x for x in row)
    assert old["version_hash"] != new["version_hash"] == stored
    # The project continues on the new version: one more QA signature is needed.
    site("gate", "sign", "MIG-1", "build-go", "--by", "mfg1", "--role", "mfg", "--decision",
         "go", "--meaning", "approval")  # fmt: skip
    site("gate", "sign", "MIG-1", "build-go", "--by", "qa2", "--role", "qa", "--decision", "go",
         "--meaning", "approval")  # fmt: skip
    assert site.status("MIG-1")["phases"][2]["state"] == "active"
    out = site("audit", "verify", "MIG-1", "--deep", password=None)
    assert "every project document matches its trail" in out, out


def test_a_phase_added_after_the_current_one_rebaselines(site: Site, repo: Repo) -> None:
    site.start("MIG-2")
    site.finish_design("MIG-2")
    before = json.loads(site("project", "forecast", "MIG-2", "--json", password=None))
    assert before["baseline_number"] == 0
    site("change", "propose", "MIG-2", "--by", "pm1", "--title", "Add a stability study",
         "--reason", "Agency request", "--to-version", "c3", "--schedule-impact", "10bd",
         "--cost-impact", "18500.00", "--currency", "EUR")  # fmt: skip
    site("change", "submit", "MIG-2", "CR-1", "--by", "pm1")
    _approve(site, "MIG-2", "CR-1", ("cust1", "customer"), ("pm1", "pm"), ("qa1", "qa"))
    status = site.status("MIG-2")
    assert [p["id"] for p in status["phases"]] == ["design", "build", "stability", "release"]
    assert [p["state"] for p in status["phases"]] == ["completed", "active", "pending", "pending"]
    after = json.loads(site("project", "forecast", "MIG-2", "--json", password=None))
    assert after["baseline_number"] == 1
    assert [b["change"] for b in after["baselines"]] == [None, "CR-1"]
    assert after["baselines"][1]["approved_by"] == ["cust1", "pm1", "qa1"]
    assert after["baseline_completion"] > before["baseline_completion"]
    phases = {p["id"]: p for p in after["phases"]}
    assert phases["stability"]["baseline"]["end"] is not None
    text = site("project", "forecast", "MIG-2", password=None)
    assert "baselines (slip is against baseline 1)" in text and "CR-1" in text
    shown = json.loads(site("change", "show", "MIG-2", "CR-1", "--json", password=None))
    assert shown["applied"]["cost_impact"] == "18500.00" and shown["currency"] == "EUR"
    assert all(s["linked"] for s in shown["signatures"])
    out = site("audit", "verify", "MIG-2", "--deep", password=None)
    assert "every project document matches its trail" in out, out


def test_refusals_list_every_reason(site: Site, repo: Repo) -> None:
    site.start("MIG-3")
    site.finish_design("MIG-3")
    # c4 removes design, which is completed: refused at once, naming the rule.
    out = site("change", "propose", "MIG-3", "--by", "pm1", "--title", "Drop design",
               "--reason", "r", "--to-version", "c4", code=1)  # fmt: skip
    assert "migration-refused" in out and "started-phase-removed" in out and "design" in out
    assert site.audit("MIG-3")[-1][1:] == ("change.propose", "refused", "migration-refused")
    out = site("project", "migrate", "MIG-3", "--to-version", "c4", "--dry-run", password=None,
               code=1)  # fmt: skip
    assert "cannot move" in out and "started-phase-removed" in out
    # A project further on: every reason at once.
    site.open_build("MIG-3")
    for user, role in (("qa1", "qa"), ("mfg1", "mfg")):
        site("gate", "sign", "MIG-3", "build-go", "--by", user, "--role", role, "--decision",
             "go", "--meaning", "approval")  # fmt: skip
    dry = json.loads(site("project", "migrate", "MIG-3", "--to-version", "c4", "--dry-run",
                          "--json", password=None, code=1))  # fmt: skip
    rules = {r["rule"] for r in dry["refusals"]}
    assert rules == {"started-phase-removed", "decided-gate-changed", "started-phase-would-wait"}
    # Unknown and invalid versions.
    out = site("change", "propose", "MIG-3", "--by", "pm1", "--title", "t", "--reason", "r",
               "--to-version", "no-such-tag", code=1)  # fmt: skip
    assert "unknown-version" in out
    out = site("change", "propose", "MIG-3", "--by", "pm1", "--title", "t", "--reason", "r",
               "--to-version", "--upload-pack=touch /tmp/x", code=1)  # fmt: skip
    assert "invalid-identifier" in out or "unknown-version" in out
    bad = repo.path.parent.parent / "broken"
    (bad / "definitions").mkdir(parents=True)
    (bad / "gates").mkdir()
    (bad / "definitions" / "cr-demo.yaml").write_text(
        (repo.path / "definitions" / "cr-demo.yaml")
        .read_text()
        .replace("owner: pm\n", "owner: pmm\n", 1)
    )
    for g in (repo.path / "gates").glob("*.yaml"):
        (bad / "gates" / g.name).write_text(g.read_text())
    out = site("change", "propose", "MIG-3", "--by", "pm1", "--title", "t", "--reason", "r",
               "--to-version", str(bad), code=1)  # fmt: skip
    assert "invalid-version" in out and "cr-demo.yaml:" in out and "pmm" in out
    refused = [r[3] for r in site.audit("MIG-3") if r[2] == "refused"]
    assert refused[-3:] == ["unknown-version", "invalid-identifier", "invalid-version"]
    # For a pull request's CI: a blocked project fails --strict (exit 3); a NEW that does
    # not validate fails with its findings (exit 1); OLD = NEW is no change (exit 0).
    out = site("definitions", "diff", "c1", "c4", "--projects", "--strict", password=None,
               code=3)  # fmt: skip
    assert "project MIG-3" in out and "cannot move" in out
    doc = json.loads(site("definitions", "diff", "c1", "c4", "--projects", "--json",
                          password=None))  # fmt: skip
    assert [p["project"] for p in doc["projects"] if not p["migratable"]] == ["MIG-3"]
    out = site("definitions", "diff", "c1", str(bad), password=None, code=1)
    assert "invalid-version" in out and f"{bad}/definitions/cr-demo.yaml:" in out
    assert "no change of meaning" in site("definitions", "diff", "c2", "c2", password=None)
    out = site("definitions", "diff", "c1", "nope", password=None, code=1)
    assert "unknown-version" in out


def test_an_approval_that_cannot_migrate_is_refused_and_changes_nothing(
    site: Site, repo: Repo
) -> None:
    site.start("MIG-4")
    site.finish_design("MIG-4")
    site.open_build("MIG-4")
    site("gate", "sign", "MIG-4", "build-go", "--by", "qa1", "--role", "qa", "--decision", "go",
         "--meaning", "approval")  # fmt: skip
    site("change", "propose", "MIG-4", "--by", "pm1", "--title", "Second QA reviewer",
         "--reason", "Audit", "--to-version", "c2")  # fmt: skip
    site("change", "submit", "MIG-4", "CR-1", "--by", "pm1")
    _approve(site, "MIG-4", "CR-1", ("cust1", "customer"), ("pm1", "pm"))
    # Meanwhile the gate is decided under the old quotas: c2 would now change a decided gate.
    site("gate", "sign", "MIG-4", "build-go", "--by", "mfg1", "--role", "mfg", "--decision",
         "go", "--meaning", "approval")  # fmt: skip
    before = site.sql("SELECT document, version_hash, version FROM projects WHERE code = 'MIG-4'")
    out = site("change", "sign", "MIG-4", "CR-1", "--by", "qa2", "--role", "qa", "--decision",
               "approve", "--meaning", "approval", code=1)  # fmt: skip
    assert "migration-refused" in out and "decided-gate-changed" in out
    assert site.audit("MIG-4")[-1] == ("qa2", "change.sign", "refused", "migration-refused")
    after = site.sql("SELECT document, version_hash, version FROM projects WHERE code = 'MIG-4'")
    assert after == before  # nothing half-applied: no signature, no migration, no baseline
    shown = json.loads(site("change", "show", "MIG-4", "CR-1", "--json", password=None))
    assert shown["state"] == "submitted" and len(shown["signatures"]) == 2
    # A request proposed on an older version cannot be signed once the project moved on.
    site("change", "withdraw", "MIG-4", "CR-1", "--by", "pm1", "--reason", "overtaken")
    out = site("change", "sign", "MIG-4", "CR-1", "--by", "qa2", "--role", "qa", "--decision",
               "approve", "--meaning", "approval", code=1)  # fmt: skip
    assert "change-withdrawn" in out
    out = site("change", "sign", "MIG-4", "CR-1", "--by", "qa2", "--role", "qa", "--decision",
               "approve", "--meaning", "approval", password=WRONG, code=1)  # fmt: skip
    assert "authentication-failed" in out
