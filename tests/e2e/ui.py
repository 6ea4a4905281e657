"""What a person does in the Prefect UI, as Playwright steps (the UI a new browser gets: V2).

Selectors are the ones a user sees: link and button names, field labels, the select buttons'
``aria-label="Select <title>"`` and their ``option`` list. Every step waits explicitly.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

# The form's fields in order, as labelled in the dialog (the UI appends "(Optional)" to fields
# with a default: role, decision and meaning have none, the signer must choose them).
FORM_LABELS = [
    "User id",
    "Role",
    "Decision",
    "Meaning of the signature",
    "Comment (Optional)",
    "Conditions (Optional)",
    "On behalf of (Optional)",
    "Password",
]


@dataclass
class SignOff:
    user: str
    role: str
    decision: str
    meaning: str
    password: str
    comment: str = ""
    conditions: tuple[str, ...] = ()


class UI:
    def __init__(self, page: Any, base_url: str) -> None:
        self.page = page
        self.base = base_url

    # ------------------------------------------------------------------ navigation

    def home(self) -> None:
        self.page.goto(self.base + "/")
        self.page.get_by_role("link", name="Runs", exact=True).wait_for()

    def open_run(self, name: str, attempts: int = 10) -> None:
        """Runs → the run named ``name`` (reloads until the list shows it)."""
        self.home()
        self.page.get_by_role("link", name="Runs", exact=True).click()
        link = self.page.get_by_role("link", name=name, exact=True)
        for _ in range(attempts):
            try:
                link.first.wait_for(timeout=5_000)
                break
            except Exception:
                self.page.reload()
        link.first.click()
        self.page.wait_for_url(re.compile(r"/runs/flow-run/[0-9a-f-]{36}"))

    def open_resume_form(self, first_field: str = "User id", shot: Any = None) -> Any:
        """The run's menu → Resume: the dialog with the form (once it is rendered)."""
        self.page.reload()  # the run waits again: show its current state and form
        self.page.get_by_text("Suspended", exact=True).first.wait_for()
        self.page.get_by_role("button", name="Open menu", exact=True).click()
        item = self.page.get_by_role("menuitem", name="Resume", exact=True)
        item.wait_for()
        if shot is not None:  # the README's "⋮ → Resume" picture
            self.page.screenshot(path=str(shot))
        item.click()
        dialog = self.page.get_by_role("dialog")
        dialog.get_by_text(first_field, exact=True).first.wait_for()
        return dialog

    # ------------------------------------------------------------------ the form

    def labels(self, dialog: Any) -> list[str]:
        return [t.strip() for t in dialog.locator("label").all_text_contents()]

    def options(self, title: str) -> list[str]:
        """The choices a select offers (opens it, reads them, closes it again)."""
        self.page.get_by_role("button", name=f"Select {title}", exact=True).click()
        listbox = self.page.get_by_role("listbox")
        listbox.get_by_role("option").first.wait_for()
        values = [t.strip() for t in listbox.get_by_role("option").all_text_contents()]
        self.page.keyboard.press("Escape")
        listbox.wait_for(state="hidden")
        return values

    def choose(self, title: str, value: str) -> None:
        button = self.page.get_by_role("button", name=f"Select {title}", exact=True)
        button.click()
        self.page.get_by_role("listbox").get_by_role("option", name=value, exact=True).click()
        self.page.get_by_role("listbox").wait_for(state="hidden")
        if button.inner_text().strip() != value:
            raise AssertionError(f"select {title!r} shows {button.inner_text()!r}, not {value!r}")

    def fill(self, dialog: Any, s: SignOff) -> None:
        """Every field of the sign-off form, as a person fills it."""
        dialog.get_by_label("User id", exact=True).fill(s.user)
        self.choose("Role", s.role)
        self.choose("Decision", s.decision)
        self.choose("Meaning of the signature", s.meaning)
        dialog.get_by_label(re.compile(r"^Comment")).fill(s.comment)
        conditions = dialog.locator("fieldset").filter(
            has=self.page.get_by_role("button", name="Add item", exact=True)
        )
        for i, text in enumerate(s.conditions):
            conditions.get_by_role("button", name="Add item", exact=True).click()
            item = conditions.locator("textarea").nth(i)
            item.wait_for()
            item.fill(text)
        password = dialog.get_by_label("Password", exact=True)
        password.fill(s.password)
        if password.get_attribute("type") != "password":
            raise AssertionError("the password field is not masked")

    def shown(self, title: str) -> str:
        """What a select shows before anything is chosen (empty for a required select)."""
        button = self.page.get_by_role("button", name=f"Select {title}", exact=True)
        return str(button.inner_text()).strip()

    def press_resume(self, dialog: Any) -> None:
        dialog.get_by_role("button", name="Resume", exact=True).click()

    def submit(self, dialog: Any) -> None:
        """Press Resume; wait for the "resumed" toast (fail with the UI's refusal if not)."""
        button = dialog.get_by_role("button", name="Resume", exact=True)
        resumed = self.page.get_by_text("Flow run resumed").first
        refused = self.page.get_by_text(re.compile(r"^Reason: ")).first
        button.click()
        try:
            resumed.or_(refused).wait_for(timeout=15_000)
        except Exception:
            # Seen on the loaded CI machine: the first click did nothing (no request, no
            # toast) while the form was still validating; a person presses again.
            if resumed.is_visible() or not dialog.is_visible():
                return
            button.click()
            resumed.or_(refused).wait_for()
        if not resumed.is_visible():
            raise AssertionError(f"the UI refused the form: {refused.inner_text()}")
        dialog.wait_for(state="hidden")

    # ------------------------------------------------------------------ deployments

    def quick_run(self, deployment: str) -> str:
        """The deployment's page → Run → Quick run; returns the new run's id.

        The page is opened by its address (found through the API): with the housekeeping
        deployments the Deployments list no longer fits on one page."""
        import json as _json
        import urllib.request

        req = urllib.request.Request(
            self.base.rstrip("/") + "/api/deployments/filter",
            data=_json.dumps({"deployments": {"name": {"any_": [deployment]}}}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            found = _json.loads(resp.read())
        assert found, f"no deployment named {deployment!r}"
        dep_id = found[0]["id"]

        def run_ids() -> set[str]:
            body = {"deployments": {"id": {"any_": [dep_id]}}, "limit": 200}
            req = urllib.request.Request(
                self.base.rstrip("/") + "/api/flow_runs/filter",
                data=_json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(req, timeout=10) as resp:
                return {r["id"] for r in _json.loads(resp.read())}

        before = run_ids()
        address = f"{self.prefix()}/deployments/deployment/{dep_id}"
        # The run the click created, from the API: the "scheduled to start" toast with its
        # "View run" link may come and go while a loaded machine renders the page. A click
        # that lands while the page is still wiring its menu creates nothing, so the page
        # is reloaded and the menu used again (at most three tries, each given 20 s).
        toasts: list[str] = []
        new: set[str] = set()
        for _ in range(3):
            self.page.goto(address)
            self.page.get_by_text(dep_id, exact=True).first.wait_for()  # details loaded
            self.page.get_by_role("button", name="Run", exact=True).click()
            self.page.get_by_role("menuitem", name="Quick run", exact=True).click()
            deadline = time.monotonic() + 20
            while not (new := run_ids() - before) and time.monotonic() < deadline:
                time.sleep(0.25)
            if new:
                break
            toasts.append(self.page.locator(".p-toast").all_inner_texts().__repr__())
        assert new, f"Quick run of {deployment} created no run (toasts: {toasts})"
        run_id = sorted(new)[0]
        self.page.goto(f"{self.prefix()}/runs/flow-run/{run_id}")
        return run_id

    def prefix(self) -> str:
        """The UI's base URL as the browser sees it (Prefect may serve its UI under /v2)."""
        self.home()
        self.page.get_by_role("link", name="Runs", exact=True).click()
        self.page.wait_for_url(re.compile(r"/runs"))
        return str(self.page.url).split("/runs")[0]

    def open_run_by_id(self, run_id: str) -> None:
        self.page.goto(f"{self.prefix()}/runs/flow-run/{run_id}")

    def custom_run(
        self, deployment: str, fields: dict[str, str], json_fields: dict[str, str]
    ) -> str:
        """Deployments → ``deployment`` → Run → Custom run, fill the parameters, Submit.

        Returns the new flow run's id (from the page it lands on).
        """
        self.home()
        self.page.get_by_role("link", name="Deployments", exact=True).click()
        self.page.get_by_role("link", name=deployment, exact=True).first.click()
        self.page.get_by_role("button", name="Run", exact=True).click()
        self.page.get_by_role("menuitem", name="Custom run", exact=True).click()
        self.page.get_by_role("heading", name="Parameters").wait_for()
        for label, value in fields.items():
            self.page.get_by_label(label, exact=True).fill(value)
        if json_fields:  # dict parameters are JSON editors (CodeMirror); one per form here
            (text,) = json_fields.values()
            content = self.page.locator(".cm-content")
            content.first.click()
            if content.count() != 1:
                raise AssertionError(f"expected one JSON editor, found {content.count()}")
            self.page.keyboard.press("Control+A")
            self.page.keyboard.insert_text(text)
        self.page.get_by_role("button", name="Submit", exact=True).click()
        self.page.get_by_text("scheduled to start").first.wait_for()  # the toast
        self.page.get_by_role("link", name="View run").first.click()
        self.page.wait_for_url(re.compile(r"/runs/flow-run/[0-9a-f-]{36}"))
        match = re.search(r"/runs/flow-run/([0-9a-f-]{36})", self.page.url)
        assert match is not None
        return match.group(1)
