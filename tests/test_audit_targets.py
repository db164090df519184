"""Every kind of thing the audit trail records an entry about has a name on the audit page."""

from __future__ import annotations

import re
from pathlib import Path

from backend.audit.services import TARGET_LABELS

ROOT = Path(__file__).resolve().parents[1]
# record_audit(session, actor, "some.action", "target_type", …), over one or more lines
CALL = re.compile(r"record_audit\(\s*[^,]+,\s*[^,]+,\s*f?\"[^\"]+\",\s*\"(\w+)\"")


def test_every_audited_target_type_has_a_chinese_name() -> None:
    found = {
        kind
        for path in (ROOT / "backend").rglob("*.py")
        for kind in CALL.findall(path.read_text(encoding="utf-8"))
    }
    assert "case" in found and "staff" in found  # the scan sees the calls
    assert sorted(found - set(TARGET_LABELS)) == []
