"""One display time zone (Asia/Shanghai) and one format everywhere (issue 14): the enterprise and the bank
read the same clock for the same match, and no page or export shows a UTC wall-clock time."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from models.base import utcnow
from models.consent import Authorization
from models.identity import Role
from models.scoring import ModelVersion, WhitelistVersion
from xinyidai.moments import local_date, local_time, month, stamped

# 17:47 UTC on 4 December is 01:47 on 5 December in Shanghai: a UTC rendering shows the wrong day too.
MOMENT = datetime(2026, 12, 4, 17, 47, tzinfo=UTC)
SHANGHAI_TEXT, UTC_TEXT = "2026-12-05 01:47", "2026-12-04 17:47"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def test_the_helpers_show_shanghai_time_and_refuse_a_naive_moment():
    assert local_time(MOMENT) == SHANGHAI_TEXT
    assert local_time(MOMENT.isoformat()) == SHANGHAI_TEXT
    assert local_date(MOMENT) == "2026-12-05"
    assert month(datetime(2026, 11, 30, 17, 0, tzinfo=UTC)) == "2026-12"
    assert stamped(MOMENT) == f"{SHANGHAI_TEXT} (UTC+8)"
    assert local_time(None) == "—"
    with pytest.raises(ValueError, match="naive"):
        local_time(datetime(2026, 12, 4, 17, 47))  # noqa: DTZ001 - the refused case


def test_the_enterprise_and_the_bank_see_the_same_clock_for_the_same_match(
        client, login, db_session, make_user, make_application):
    application = make_application(created_at=MOMENT)
    enterprise_user = make_user(Role.ENTERPRISE, enterprise_uscc=application.uscc, is_tenant_admin=True)
    officer = make_user(Role.BANK, bank_id=application.bank_id, is_tenant_admin=True)
    db_session.add(Authorization(uscc=application.uscc, sources=["tax"], all_banks=True,
                                 granted_by_id=enterprise_user.id, expires_at=utcnow() + timedelta(days=30)))
    db_session.commit()
    pages = {}
    for user, path in ((enterprise_user, f"/enterprise/applications/{application.id}"),
                       (officer, f"/bank/applications/{application.id}")):
        login(user)
        response = client.get(path)
        assert response.status_code == 200
        pages[path] = response.get_data(as_text=True)
        client.post("/logout", data={})
        client.delete_cookie("session")
    for path, page in pages.items():
        assert SHANGHAI_TEXT in page, path
        assert UTC_TEXT not in page, path


def test_the_whitelist_page_and_the_exports_are_in_shanghai_time(client, login, db_session, make_user):
    db_session.add(ModelVersion(version="tz-model", path="-", card={}, is_active=True))
    db_session.flush()
    db_session.add(WhitelistVersion(district_code="310115", model_version="tz-model", min_grade="A", created_at=MOMENT))
    office = make_user(Role.OFFICE, district_code="310115")
    db_session.commit()
    login(office)
    page = client.get("/office/whitelist").get_data(as_text=True)
    assert SHANGHAI_TEXT in page
    assert UTC_TEXT not in page
    export = client.get("/office/dashboard/overview/export.csv").get_data(as_text=True)
    generated = next(line for line in export.splitlines() if line.startswith("生成时间"))
    assert generated.endswith("(UTC+8)")
    assert not re.search(r"\d UTC\b", export)


def test_no_template_formats_a_moment_itself():
    """A template that calls strftime / isoformat / Babel's datetimeformat picks its own zone and format;
    the filters local_time, local_date and month are the one way (a machine-readable datetime="" attribute
    may carry the ISO value)."""
    offenders = []
    for template in TEMPLATES.rglob("*.html"):
        for number, line in enumerate(template.read_text(encoding="utf-8").splitlines(), start=1):
            line = re.sub(r'datetime="\{\{[^}]*\}\}"', "", line)
            if re.search(r"\.strftime\(|\.isoformat\(|datetimeformat|format_datetime", line):
                offenders.append(f"{template.relative_to(TEMPLATES)}:{number}: {line.strip()[:100]}")
    assert not offenders, "\n".join(offenders)
