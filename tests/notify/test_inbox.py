"""The demo notification inbox of `cdmo up`: apprise's json:// target posts, the page lists."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from cdmo_workflow.orchestration.inbox import Inbox


def test_apprise_json_target_arrives_and_the_page_escapes(tmp_path: Path) -> None:
    import apprise

    box = Inbox(0, tmp_path / "inbox.jsonl").start()
    try:
        ap = apprise.Apprise()
        assert ap.add(box.target("demo-pm"))
        assert ap.notify(title="Gate <b>opened</b>", body="DEMO-001 <script>x()</script>")
        (msg,) = box.snapshot()
        assert msg["to"] == "demo-pm" and msg["title"] == "Gate <b>opened</b>"
        page = urllib.request.urlopen(box.url, timeout=5).read().decode()
        assert "Gate &lt;b&gt;opened&lt;/b&gt;" in page and "<script>" not in page
        data = json.loads(urllib.request.urlopen(box.url + "messages.json", timeout=5).read())
        assert data[0]["message"].startswith("DEMO-001")
        assert json.loads((tmp_path / "inbox.jsonl").read_text())["to"] == "demo-pm"
    finally:
        box.stop()
