"""The four sources beyond the first six (DESIGN §13) are deliveries like the others: through `xyd ingest`,
bad rows are reported line by line and never stop the good ones, rows upsert on their natural key, and the
same file twice changes nothing."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from models.sources import (
    AgriculturalOperator,
    EnvironmentalRating,
    IntellectualProperty,
    Qualification,
)
from tests.conftest import count_rows, fresh_uscc
from tests.test_ingest import REGISTRY_HEADER, ingest, write

NEXT_YEAR = date.today().year + 1


@pytest.fixture
def registered(tmp_path, cli):
    codes = [fresh_uscc("310117") for _ in range(2)]
    rows = [f"{code},上海松江科创{i}有限公司,310117,C,39,2016-03-0{i + 1},1000000.00,存续,小" for i, code in enumerate(codes)]
    result, summary = ingest(cli, "registry", write(tmp_path / "registry.csv", [REGISTRY_HEADER, *rows]))
    assert result.exit_code == 0, result.output
    return codes


def report_of(summary) -> list[tuple[str, str]]:
    with open(summary["rejection_report"], encoding="utf-8") as handle:
        return [(r["line"], r["field"]) for r in csv.DictReader(handle)]


CASES = {
    "intellectual_property": (
        "uscc,kind,number,applied_on,granted_on",
        ["{a},发明专利,CN202110000001.X,2021-01-05,2023-06-01",
         "{a},实用新型,CN202220000002.1,2022-02-01,",  # still pending
         "{b},trademark,TM-50000001,2020-05-01,2021-03-01",  # an English alias
         "{a},发明专利,CN202110000003.X,2023-01-05,2022-06-01",  # granted before applied
         "{b},专利,CN1,2021-01-01,",  # unknown kind
         "{a},发明专利,CN202110000001.X,2021-01-05,2023-06-01"],  # the first row's key again
        [("5", "granted_on"), ("6", "kind"), ("7", "kind+number")], IntellectualProperty),
    "qualifications": (
        "uscc,kind,issued_on,expires_on,certificate_no",
        ["{a},高新技术企业,2023-11-15,2026-11-14,GR202331001234",
         "{b},专精特新,2024-01-01," + f"{NEXT_YEAR}-12-31,",  # expires in the future: fine
         "{b},little_giant,2022-05-01,2025-04-30,XJR-1",
         "{a},科技型中小企业,2024-05-01,2023-05-01,",  # expires before issued
         "{a},高新技术企业,2099-01-01,2101-01-01,"],  # issued in the future; expiry past 2100
        [("5", "expires_on"), ("6", "expires_on"), ("6", "issued_on")], Qualification),
    "environmental_rating": (
        "uscc,year,grade",
        ["{a},2023,绿", "{a},2024,blue", "{b},2024,环保警示", "{b},2023,紫", "{b},2024,红"],
        [("5", "grade"), ("6", "uscc+year")], EnvironmentalRating),
    "agricultural_operator": (
        "uscc,kind,recognized_on,level,revoked_on",
        ["{a},家庭农场,2020-03-01,市级,", "{b},农民合作社,2019-01-01,,2024-06-30",
         "{b},农业产业化龙头企业,2021-01-01,省级,", "{a},农民合作社,2022-01-01,区级,2021-01-01"],
        [("4", "level"), ("5", "revoked_on")], AgriculturalOperator),
}


@pytest.mark.parametrize("source", list(CASES))
def test_a_new_source_keeps_good_rows_reports_bad_ones_and_a_second_delivery_changes_nothing(
        tmp_path, cli, registered, db_session, source):
    header, lines, expected_rejections, model = CASES[source]
    a, b = registered
    stranger = fresh_uscc()  # a valid code the registry never delivered
    unknown = "{a},外观设计,CN-UNKNOWN-FIRM,2021-01-01," if source == "intellectual_property" else lines[0]
    rows = [line.format(a=a, b=b) for line in lines] + [unknown.format(a=stranger)]
    path = write(tmp_path / f"{source}.csv", [header, *rows])
    result, summary = ingest(cli, source, path)
    assert result.exit_code == 0, result.output
    good = len(lines) - len({line for line, _ in expected_rejections})
    assert summary["rows"] == len(rows)
    assert (summary["inserted"], summary["rejected"]) == (good, len(rows) - good)
    assert report_of(summary) == [*expected_rejections, (str(len(rows) + 1), "uscc")]
    assert count_rows(model) == good

    again, second = ingest(cli, source, path)
    assert again.exit_code == 0
    assert (second["inserted"], second["updated"], second["unchanged"]) == (0, 0, good)
    assert count_rows(model) == good


def test_a_renewed_certificate_is_a_new_row_and_a_corrected_one_an_update(tmp_path, cli, registered, db_session):
    a, _ = registered
    header = "uscc,kind,issued_on,expires_on,certificate_no"
    ingest(cli, "qualifications", write(tmp_path / "q1.csv", [header, f"{a},高新技术企业,2020-11-01,2023-10-31,GR1"]))
    result, summary = ingest(cli, "qualifications", write(tmp_path / "q2.csv", [
        header, f"{a},高新技术企业,2020-11-01,2023-10-30,GR1", f"{a},高新技术企业,2023-11-01,2026-10-31,GR2"]))
    assert (summary["inserted"], summary["updated"]) == (1, 1)
    stored = db_session.execute(sa.select(Qualification.issued_on, Qualification.expires_on)
                                .where(Qualification.uscc == a).order_by(Qualification.issued_on)).all()
    assert stored == [(date(2020, 11, 1), date(2023, 10, 30)), (date(2023, 11, 1), date(2026, 10, 31))]


def test_json_lines_deliveries_of_a_new_source_are_accepted(tmp_path, cli, registered, db_session):
    a, _ = registered
    path = tmp_path / "ip.jsonl"
    path.write_text(json.dumps({"uscc": a, "kind": "商标", "number": "TM-1", "applied_on": "2020-01-01",
                                "granted_on": None}, ensure_ascii=False) + "\n", encoding="utf-8")
    result, summary = ingest(cli, "intellectual_property", path)
    assert result.exit_code == 0, result.output
    assert summary["inserted"] == 1
    assert db_session.get(IntellectualProperty, ("商标", "TM-1")).granted_on is None


def test_a_wrong_header_for_a_new_source_writes_nothing(tmp_path, cli, registered):
    path = write(tmp_path / "env.csv", ["uscc,year,rating", f"{registered[0]},2024,绿"])
    result, _ = ingest(cli, "environmental_rating", path)
    assert result.exit_code != 0
    assert "grade" in result.output
    assert count_rows(EnvironmentalRating) == 0


def test_the_expiry_of_a_certificate_may_lie_ahead_but_no_other_date_may(tmp_path, cli, registered):
    a, _ = registered
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    result, summary = ingest(cli, "agricultural_operator", write(tmp_path / "agri.csv", [
        "uscc,kind,recognized_on,level,revoked_on", f"{a},家庭农场,{tomorrow},,"]))
    assert summary["rejected"] == 1
    assert report_of(summary) == [("2", "recognized_on")]


def test_the_admin_upload_page_offers_and_applies_each_new_source(client, make_user, login, db_session):
    from models.identity import Role
    from tests.test_admin_deliveries import upload

    login(make_user(Role.ADMIN, username="ops-more-sources"))
    code = fresh_uscc("310117")
    assert upload(client, "registry", "registry.csv", f"{REGISTRY_HEADER}\n{code},上海科创上传有限公司,310117,M,75,"
                                                      "2015-01-01,1000000.00,存续,小\n").status_code == 302
    body = ("uscc,kind,issued_on,expires_on,certificate_no\n"
            f"{code},高新技术企业,2023-11-15,2026-11-14,GR1\n{code},高新,2023-11-15,2026-11-14,\n")
    response = upload(client, "qualifications", "资质_2026-11.csv", body)
    assert response.status_code == 302
    shown = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已处理 2 行：新增 1，更新 0，未变 0，拒收 1。" in shown
    assert "<code>kind</code>" in shown
    assert "企业资质认定" in shown
    again = upload(client, "qualifications", "资质_2026-11.csv", body)
    assert "已处理 2 行：新增 0，更新 0，未变 1，拒收 1。" in client.get(again.headers["Location"]).get_data(as_text=True)
    assert count_rows(Qualification) == 1
    page = client.get("/admin/deliveries?lang=en").get_data(as_text=True)
    for name in ("Intellectual property", "Enterprise qualifications", "Environmental credit rating",
                 "New-type agricultural operator"):
        assert name in page


def test_the_enterprise_profile_shows_what_the_new_sources_delivered(tmp_path, cli, registered, client, make_user,
                                                                      login):
    from models.identity import Role

    a, b = registered
    for source, (header, lines, _, _) in CASES.items():
        ingest(cli, source, write(tmp_path / f"{source}.csv", [header, *(line.format(a=a, b=b) for line in lines)]))
    login(make_user(Role.ENTERPRISE, enterprise_uscc=a))
    page = client.get("/enterprise/profile").get_data(as_text=True)
    section = page.split('id="more-sources"')[1].split("</section>")[0]
    for shown in ("高新技术企业", "2026-11-14", "CN202110000001.X", "审查中", "蓝（环保良好）", "家庭农场", "市级"):
        assert shown in section, shown
    assert "CN202110000003.X" not in section  # a rejected row is not data
    english = client.get("/enterprise/profile?lang=en").get_data(as_text=True).split('id="more-sources"')[1]
    for shown in ("High-tech enterprise", "Invention patent", "Blue (good)", "Family farm", "Pending"):
        assert shown in english, shown
