"""The pure part of the audit trail: canonical JSON and record hashes."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdmo_workflow import audit
from cdmo_workflow.identity import manifestation

FIELDS = {
    "chain": "P-1",
    "seq": 1,
    "at": datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
    "actor": "jdoe",
    "action": "gate.sign",
    "subject": "P-1/g1",
    "outcome": "accepted",
    "rule": None,
    "reason": None,
    "old": None,
    "new": {"décision": "go", "b": [1, 2]},
    "events": [],
}


def test_canonical_json_is_sorted_compact_utf8_and_utc() -> None:
    text = audit.canonical_json(
        {"b": 1, "a": "é", "t": datetime(2026, 11, 25, 13, 0, tzinfo=timezone(timedelta(hours=1)))}
    )
    assert text == '{"a":"é","b":1,"t":"2026-11-25T12:00:00.000000Z"}'
    naive = audit.canonical_json(datetime(2026, 11, 25, 12, 0))
    assert naive == '"2026-11-25T12:00:00.000000Z"'
    with pytest.raises(ValueError):
        audit.canonical_json(float("nan"))
    with pytest.raises(TypeError):
        audit.canonical_json(object())


def test_record_hash_is_sha256_of_fields_and_prev() -> None:
    body = {**FIELDS, "prev_hash": audit.GENESIS_HASH}
    expected = hashlib.sha256(audit.canonical_json(body).encode()).hexdigest()
    assert audit.record_hash(FIELDS, audit.GENESIS_HASH) == expected
    assert audit.GENESIS_HASH == "0" * 64
    # extra keys (id, hash...) do not take part; every hashed field does
    assert audit.record_hash({**FIELDS, "id": 9}, audit.GENESIS_HASH) == expected
    for key in audit.HASHED_FIELDS:
        changed = {**FIELDS, key: "tampered"}
        assert audit.record_hash(changed, audit.GENESIS_HASH) != expected
    assert audit.record_hash(FIELDS, "1" * 64) != expected


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@given(json_values)
def test_canonical_json_round_trips_and_is_stable(value: object) -> None:
    text = audit.canonical_json(value)
    again = json.loads(text)
    assert audit.canonical_json(again) == text


@given(st.dictionaries(st.text(), st.integers(), max_size=8))
def test_key_order_does_not_change_the_hash(d: dict[str, int]) -> None:
    reordered = dict(reversed(list(d.items())))
    a = audit.record_hash({**FIELDS, "new": d}, audit.GENESIS_HASH)
    b = audit.record_hash({**FIELDS, "new": reordered}, audit.GENESIS_HASH)
    assert a == b


def test_manifestation_text() -> None:
    text = manifestation(
        name="Dr. Jane Doe",
        user="jdoe",
        role="qa",
        signed_at="2026-11-25T12:00:00Z",
        meaning="approval",
        decision="go",
        record_hash="sha256:abc",
    )
    assert text == (
        "Signed by Dr. Jane Doe (jdoe, role qa) at 2026-11-25T12:00:00Z — meaning: approval — "
        "decision: go — record sha256:abc"
    )


def test_audit_module_imports_no_sqlalchemy() -> None:
    code = "import sys, cdmo_workflow.audit; print('sqlalchemy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
