"""A whole programme: every stakeholder receives the right messages over SMTP and HTTP."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from cdmo_workflow import service
from cdmo_workflow.notify.relay import relay_once
from cdmo_workflow.spec.loader import load_catalog
from tests.notify.receivers import JsonReceiver, SmtpReceiver
from tests.programme import NAMES, ROLES, ROOT, add_team, run_programme, user_of

MAIL_ROLES = {"pm", "qa", "customer", "site-head"}


@pytest.mark.slow
def test_every_stakeholder_hears_every_stage_change(
    db_url: str, smtp_receiver: SmtpReceiver, json_receiver: JsonReceiver
) -> None:
    targets = {}
    for role in ROLES:
        uid = user_of(role)
        if role in MAIL_ROLES:
            targets[uid] = [smtp_receiver.url(to=f"{uid}@sponsor.example")]
        else:
            targets[uid] = [json_receiver.url(f"/hook/{uid}")]
    ctx = service.open_context(db_url=db_url, definitions=ROOT)
    add_team(ctx, targets)
    final = run_programme(ctx, "NTF-1", customer="Helix Bio")
    assert final["state"] == "completed"

    total = 0
    for _ in range(50):
        stats = relay_once(ctx.db, batch=500)
        total += stats.sent
        assert stats.dead == 0
        if stats.sent == 0 and stats.failed == 0:
            break
    assert total > 0

    received: dict[str, list[tuple[str, str, str]]] = {user_of(r): [] for r in ROLES}
    keys: list[str] = []
    for mail in smtp_receiver.mails:
        (to,) = mail.rcpt_tos
        uid = to.split("@", 1)[0]
        received[uid].append((mail.subject, mail.text, "smtp"))
        keys.append(str(mail.message["X-CDMO-Dedup-Key"]))
    for msg in json_receiver.messages:
        uid = msg.path.rsplit("/", 1)[1]
        received[uid].append((msg.body["title"], msg.body["message"], "http"))
        keys.append(msg.headers.get("X-CDMO-Dedup-Key") or msg.body.get("dedup_key", ""))
    assert sum(len(v) for v in received.values()) == total
    assert len(keys) == len(set(keys)), "a message was delivered twice"

    catalog = load_catalog(ROOT)
    snap = catalog.snapshot("api-clinical-program")

    def with_text(uid: str, *needles: str) -> list[Any]:
        return [m for m in received[uid] if all(n in m[0] + m[1] for n in needles)]

    # Every gate's decision reaches exactly the roles its notify block names, once each.
    for phase in snap.process.phases:
        gate = snap.gates[phase.gate]
        for role in ROLES:
            hits = with_text(user_of(role), gate.name, "decided")
            expected = role in gate.notify["decided"]
            assert len(hits) == (1 if expected else 0), (gate.id, role, hits)
        # Gate opened: the roles named in `opened`.
        for role in gate.notify["opened"]:
            assert with_text(user_of(role), gate.name, "open"), (gate.id, role)

    # Project-level events: started and completed, per the process notify block.
    for role in snap.process.notify["completed"]:
        assert with_text(user_of(role), "NTF-1", "completed"), role
    for role in snap.process.notify["started"]:
        assert with_text(user_of(role), "NTF-1", "Helix Bio"), role

    # The PM hears of every signature; messages carry printed names, not just ids.
    signed = with_text(user_of("pm"), "signed")
    assert len(signed) >= sum(
        q.min for p in snap.process.phases for q in snap.gates[p.gate].signoffs
    )
    assert any(NAMES["qa"] in m[1] for m in signed)

    # Conditions from the Conditional Go were announced and closed.
    assert with_text(user_of("pm"), "condition")
    channels = Counter(m[2] for msgs in received.values() for m in msgs)
    assert channels["smtp"] > 0 and channels["http"] > 0
