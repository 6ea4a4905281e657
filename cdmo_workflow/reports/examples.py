"""A demo portfolio on the shipped ``api-clinical-program``, driven through the service.

Everything goes through the real service functions (passwords checked, audit rows written,
outbox rows queued); only the database clock is replaced by a simulated one, so that the
months of a programme pass in a second and the pictures show real history. Used by
``bench/make_examples.py`` (the pictures in docs/images/), the report tests and the report
benchmark.

``HX-042`` (Helix Bio), started Monday 1 June 2026, as of 25 November 2026:

* scoping: work done by 19 June, gate ``scoping-go`` signed go on 24 June (planned 22 June);
* process development: conditional go on 22 September (customer's condition on the residual
  solvent method), which opens a condition on both transfer phases;
* analytical method transfer: condition closed, gate ``method-transfer`` go on 30 October;
* technology transfer: gate ``gmp-readiness`` recycled by QA's veto on 10 November (an
  FMEA action still open); the second run started then and is under way;
* budget (CHF): every phase quoted on 2 June; development ran over its quote (the transfer
  recycle and the second development batch); commitments and actuals from the ERP export
  ``HX-042-costs.csv`` below.

Every project is started in CHF, the site's currency.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PASSWORD = "demo-password-2026"
ROOT = Path(__file__).resolve().parents[2]
PROCESS = "api-clinical-program"
CURRENCY = "CHF"
TODAY = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

QUOTES = {
    "scoping": "45000",
    "process-development": "380000",
    "tech-transfer": "210000",
    "analytical-transfer": "95000",
    "clinical-supply": "1250000",
    "process-validation": "980000",
    "commercial-readiness": "160000",
}
"""The quotes of HX-042 (CHF), as agreed in the work order."""

HELIX_COSTS = """phase,kind,amount,ref,note,booked_on
scoping,actual,41250.00,INV-26-0611,Proposal and feasibility,2026-06-24
process-development,committed,120000.00,PO-4500-0107,Development batch 2 (raw materials),
process-development,actual,289500.00,INV-26-0912,Route scouting and batches 1-3,2026-09-22
analytical-transfer,actual,88700.00,INV-26-1030,Method transfer,2026-10-30
tech-transfer,committed,64000.00,PO-4500-0131,FMEA actions and equipment fit,
tech-transfer,actual,97300.00,INV-26-1110,Transfer run 1,2026-11-10
"""
"""HX-042's ERP export: development ends up over its quote (the default threshold, 100 %)."""

USERS: dict[str, tuple[str, list[str]]] = {
    "alice": ("Alice Martin", ["pm"]),
    "carl": ("Carl Sponsor", ["customer"]),
    "sita": ("Sita Head", ["site-head"]),
    "pedro": ("Pedro Developer", ["pd"]),
    "quinn": ("Quinn Lab", ["qc"]),
    "mia": ("Mia Production", ["mfg"]),
    "qadler": ("Dr. Quinn Adler", ["qa"]),
    "rae": ("Rae Regulatory", ["ra"]),
}
TEAM = {
    "pm": ["alice"],
    "customer": ["carl"],
    "site-head": ["sita"],
    "pd": ["pedro"],
    "qc": ["quinn"],
    "mfg": ["mia"],
    "qa": ["qadler"],
    "ra": ["rae"],
}


def at(text: str) -> datetime:
    """``2026-06-01`` or ``2026-06-01 14:30``, UTC."""
    fmt = "%Y-%m-%d %H:%M" if " " in text else "%Y-%m-%d"
    value = datetime.strptime(text, fmt).replace(tzinfo=UTC)
    return value if " " in text else value + timedelta(hours=9)


@dataclass
class SimulatedClock:
    """The database clock, replaced: each read returns the current simulated time."""

    now: datetime = field(default_factory=lambda: at("2026-01-05"))
    tick: timedelta = timedelta(seconds=7)

    def __call__(self) -> datetime:
        self.now += self.tick  # strictly increasing, like a real clock
        return self.now

    def set(self, when: datetime | str) -> None:
        self.now = at(when) if isinstance(when, str) else when


@contextmanager
def simulated_clock(clock: SimulatedClock) -> Iterator[SimulatedClock]:
    from ..store.uow import UnitOfWork

    original = UnitOfWork.now
    UnitOfWork.now = lambda self: clock()  # type: ignore[method-assign]
    try:
        yield clock
    finally:
        UnitOfWork.now = original  # type: ignore[method-assign]


class Demo:
    """Drives projects through the service functions with a simulated clock."""

    def __init__(self, ctx: Any, clock: SimulatedClock) -> None:
        self.ctx = ctx
        self.clock = clock

    def users(self) -> None:
        from .. import service

        for uid, (name, roles) in USERS.items():
            service.provision_user(self.ctx, uid, name, roles, PASSWORD)

    def start(self, code: str, customer: str, when: str) -> None:
        from .. import service

        self.clock.set(when)
        service.start_project(
            self.ctx, code, PROCESS, customer, TEAM, "alice", password=PASSWORD, currency=CURRENCY
        )

    def quote(self, code: str, when: str, quotes: dict[str, str]) -> None:
        from ..service import budget

        self.clock.set(when)
        for phase, amount in quotes.items():
            budget.set_quote(self.ctx, code, phase, amount, "alice", password=PASSWORD)

    def costs(self, code: str, when: str, content: str) -> None:
        from ..service import budget

        self.clock.set(when)
        budget.import_costs(
            self.ctx, code, content, f"{code}-costs.csv", "alice", password=PASSWORD
        )

    def work(self, code: str, phase: str, when: str, *, skip: Sequence[str] = ()) -> None:
        """Submit every required deliverable, confirm every check, close and accept the
        conditions that block the phase."""
        from .. import service

        self.clock.set(when)
        project = service.load_project(self.ctx, code)
        pdef = project.phase_def(phase)
        run = project.phases[phase]
        for d in pdef.deliverables:
            if d.required and d.id not in run.deliverables and d.id not in skip:
                user = TEAM[d.owner][0]
                evidence = f"DMS-{code}-{d.id}"
                service.submit_deliverable(
                    self.ctx, code, phase, d.id, user, evidence, password=PASSWORD
                )
        for c in project.snapshot.gates[pdef.gate].checks:
            if c.id not in run.checks and c.id not in skip:
                user = TEAM[c.confirmed_by][0]
                evidence = f"DMS-{code}-{c.id}"
                service.confirm_check(
                    self.ctx, code, pdef.gate, c.id, user, evidence, password=PASSWORD
                )
        from ..domain.conditions import acceptors_of, owners_of

        for cond in project.open_conditions(phase):
            closer = cond.closed_by
            if cond.state == "open":  # its owner closes it (the PM by default) ...
                closer = owners_of(project, cond)[0]
                service.close_condition(
                    self.ctx, code, cond.id, closer, f"DMS-{code}-{cond.id}", password=PASSWORD
                )
            # ... and QA (or the raiser's role) accepts the closure
            acceptor = next(u for u in acceptors_of(project, cond) if u != closer)
            service.accept_condition(self.ctx, code, cond.id, acceptor, password=PASSWORD)

    def sign(
        self,
        code: str,
        gate: str,
        when: str,
        decisions: dict[str, str] | None = None,
        *,
        only: Sequence[str] | None = None,
        conditions: dict[str, list[str]] | None = None,
        comments: dict[str, str] | None = None,
        meaning: str = "approval",
    ) -> None:
        """Each role of the gate signs (``only`` a subset), go unless ``decisions`` says."""
        from .. import service

        self.clock.set(when)
        project = service.load_project(self.ctx, code)
        gdef = project.snapshot.gates[gate]
        for quota in gdef.signoffs:
            if only is not None and quota.role not in only:
                continue
            user = TEAM[quota.role][0]
            decision = (decisions or {}).get(quota.role, "go")
            service.sign_gate(
                self.ctx,
                code,
                gate,
                user,
                PASSWORD,
                quota.role,
                decision,
                meaning if quota.role != "customer" else "review",
                comment=(comments or {}).get(quota.role),
                conditions=(conditions or {}).get(quota.role, []),
            )
            self.clock.now += timedelta(hours=3)

    def hold(self, code: str, when: str, reason: str) -> None:
        from .. import service

        self.clock.set(when)
        service.hold_project(self.ctx, code, "alice", reason, password=PASSWORD)


def build_helix(demo: Demo) -> None:
    """HX-042: a conditional go, a recycle, and a transfer under way (see the module doc)."""
    demo.start("HX-042", "Helix Bio", "2026-06-01")
    demo.quote("HX-042", "2026-06-02", QUOTES)
    demo.work("HX-042", "scoping", "2026-06-19")
    demo.sign("HX-042", "scoping-go", "2026-06-22", only=["pm"])
    demo.sign("HX-042", "scoping-go", "2026-06-24", only=["customer", "site-head"])
    demo.work("HX-042", "process-development", "2026-09-14")
    demo.sign(
        "HX-042",
        "development-complete",
        "2026-09-22",
        {"customer": "conditional-go"},
        conditions={"customer": ["Residual solvent GC method validated before GMP readiness"]},
        comments={"customer": "Route accepted; solvent method still open."},
    )
    demo.work("HX-042", "analytical-transfer", "2026-10-27")
    demo.sign("HX-042", "method-transfer", "2026-10-30")
    demo.work("HX-042", "tech-transfer", "2026-11-06")
    demo.sign("HX-042", "gmp-readiness", "2026-11-09", only=["mfg", "pd"])
    demo.sign(
        "HX-042",
        "gmp-readiness",
        "2026-11-10",
        {"qa": "recycle"},
        only=["qa"],
        comments={"qa": "FMEA action 7 (solvent recovery) not closed; repeat the transfer."},
    )
    demo.clock.set("2026-11-20")
    from .. import service

    for d, user in (("transfer-package", "pedro"), ("gap-analysis", "pedro")):
        service.submit_deliverable(
            demo.ctx, "HX-042", "tech-transfer", d, user, f"DMS-HX-042-{d}-rev2", password=PASSWORD
        )
    demo.costs("HX-042", "2026-11-20 15:00", HELIX_COSTS)


def build_portfolio(demo: Demo) -> None:
    """Five more projects in different states, for the portfolio picture."""
    # Orion: an early start, now in process validation.
    demo.start("OR-009", "Orion Biologics", "2026-01-12")
    demo.work("OR-009", "scoping", "2026-01-28")
    demo.sign("OR-009", "scoping-go", "2026-01-30")
    demo.work("OR-009", "process-development", "2026-04-17")
    demo.sign("OR-009", "development-complete", "2026-04-21")
    demo.work("OR-009", "analytical-transfer", "2026-05-29")
    demo.sign("OR-009", "method-transfer", "2026-06-01")
    demo.work("OR-009", "tech-transfer", "2026-06-12")
    demo.sign("OR-009", "gmp-readiness", "2026-06-16")
    demo.work("OR-009", "clinical-supply", "2026-10-02")
    demo.sign("OR-009", "clinical-release", "2026-10-06")
    # Novara: clinical supply done, the release gate open past its SLA (QA has not signed).
    demo.start("NV-017", "Novara Therapeutics", "2026-03-02")
    demo.work("NV-017", "scoping", "2026-03-20")
    demo.sign("NV-017", "scoping-go", "2026-03-23")
    demo.work("NV-017", "process-development", "2026-06-12")
    demo.sign("NV-017", "development-complete", "2026-06-16")
    demo.work("NV-017", "analytical-transfer", "2026-07-24")
    demo.sign("NV-017", "method-transfer", "2026-07-28")
    demo.work("NV-017", "tech-transfer", "2026-08-07")
    demo.sign("NV-017", "gmp-readiness", "2026-08-11")
    demo.work("NV-017", "clinical-supply", "2026-11-12")
    demo.sign("NV-017", "clinical-release", "2026-11-13", only=["mfg", "qc", "customer"])
    # Kestrel: scoping gate open, then the sponsor paused the programme.
    demo.start("KE-118", "Kestrel Biosciences", "2026-07-06")
    demo.work("KE-118", "scoping", "2026-07-24")
    demo.hold("KE-118", "2026-08-10", "Sponsor funding round delayed")
    # Aurelia: on plan, in process development.
    demo.start("AU-203", "Aurelia Pharma", "2026-09-07")
    demo.work("AU-203", "scoping", "2026-09-23")
    demo.sign("AU-203", "scoping-go", "2026-09-25")
    # Bluefin: the scoping gate waits for the site head, past its SLA.
    demo.start("BL-311", "Bluefin Medicines", "2026-10-19")
    demo.work("BL-311", "scoping", "2026-11-04")
    demo.sign("BL-311", "scoping-go", "2026-11-05", only=["pm", "customer"])


def build(ctx: Any, *, portfolio: bool = True) -> SimulatedClock:
    """Users, HX-042 and (optionally) the portfolio, in the context's (migrated) database."""
    clock = SimulatedClock()
    with simulated_clock(clock):
        demo = Demo(ctx, clock)
        demo.users()
        build_helix(demo)
        if portfolio:
            build_portfolio(demo)
    return clock


def make_examples(out_dir: Path, work_dir: Path | None = None) -> dict[str, Path]:
    """Build the demo in a fresh SQLite database and write the example pictures."""
    import tempfile

    from ..domain.forecast import forecast
    from ..service import open_context
    from ..store import Database
    from . import charts, data

    with tempfile.TemporaryDirectory() as tmp:
        base = work_dir or Path(tmp)
        url = f"sqlite:///{base / 'examples.db'}"
        Database(url).migrate()
        ctx = open_context(url, ROOT)
        build(ctx)
        project, _ = data.load_project(ctx, "HX-042")
        written: dict[str, Path] = {}
        timeline = charts.timeline(project, forecast(project, TODAY))
        for fmt, path in timeline.write(out_dir, "timeline-HX-042").items():
            written[f"timeline.{fmt}"] = path
        projects, _ = data.load_portfolio(ctx)
        rows = charts.portfolio_rows(projects, TODAY)
        for fmt, path in charts.portfolio(rows, TODAY).write(out_dir, "portfolio").items():
            written[f"portfolio.{fmt}"] = path
        from ..store import dispose_engines

        dispose_engines(url)
    return written
