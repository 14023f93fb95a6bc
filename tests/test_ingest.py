"""Deliveries through `xyd ingest`: bad rows are reported and never stop good ones; re-delivery is a no-op."""

from __future__ import annotations

import csv
import json
from datetime import date

import pytest
import sqlalchemy as sa

from models.enterprise import Enterprise
from models.sources import Delivery, PublicCreditEvent, TaxMonth, UtilityMonth
from tests.conftest import count_rows, fresh_uscc

REGISTRY_HEADER = "uscc,name,district_code,industry_section,industry_division,established_on,registered_capital,status,size_class"


def write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def ingest(cli, source, path, *extra):
    result = cli.invoke(args=["ingest", source, str(path), "--json", *extra])
    return result, (json.loads(result.output) if result.exit_code == 0 else None)


@pytest.fixture
def registered(tmp_path, cli):
    """Three enterprises delivered through the registry source."""
    codes = [fresh_uscc("310117") for _ in range(3)]
    rows = [f"{code},上海松江示范{i}有限公司,310117,C,39,2016-03-0{i + 1},1000000.00,存续,小" for i, code in enumerate(codes)]
    result, summary = ingest(cli, "registry", write(tmp_path / "registry.csv", [REGISTRY_HEADER, *rows]))
    assert result.exit_code == 0, result.output
    assert summary["inserted"] == 3
    return codes


def test_bad_rows_are_reported_and_good_rows_kept(tmp_path, cli, registered, db_session):
    a, b, c = registered
    path = write(tmp_path / "tax.csv", [
        "uscc,month,invoiced_sales,tax_paid,in_arrears",
        f"{a},2025-01,120000.50,3600.15,0",
        f"{a},2025-13,1,1,0",  # bad month
        f"{b},2025-01,abc,1,0",  # bad amount
        f"{b[:-1]}0,2025-01,1,1,0",  # bad check character
        f"{c},2025-01,100,5,maybe",  # bad flag
        f"{c},2025-02,100.5,5,1",
        fresh_uscc() + ",2025-01,1,1,0",  # valid code, not in the registry
    ])
    result, summary = ingest(cli, "tax", path)
    assert result.exit_code == 0, result.output
    assert summary["rows"] == 7
    assert (summary["inserted"], summary["updated"], summary["unchanged"], summary["rejected"]) == (2, 0, 0, 5)
    with open(summary["rejection_report"], encoding="utf-8") as handle:
        report = list(csv.DictReader(handle))
    assert [(r["line"], r["field"]) for r in report] == [
        ("3", "month"), ("4", "invoiced_sales"), ("5", "uscc"), ("6", "in_arrears"), ("8", "uscc")]
    assert [r["value"] for r in report] == ["2025-13", "abc", f"{b[:-1]}0", "maybe", report[4]["value"]]
    assert report[4]["value"].startswith("91")  # the code the registry does not know
    assert "YYYY-MM" in report[0]["reason"]
    assert "第18位校验码错误" in report[2]["reason"]
    assert "registry" in report[4]["reason"]
    kept = {(row.uscc, row.month.isoformat()): row.invoiced_sales_fen
            for row in db_session.scalars(sa.select(TaxMonth).where(TaxMonth.uscc.in_(registered)))}
    assert kept == {(a, "2025-01-01"): 12000050, (c, "2025-02-01"): 10050}


def test_same_delivery_twice_changes_nothing(tmp_path, cli, registered):
    path = write(tmp_path / "si.csv", ["uscc,month,insured_headcount,contributions,months_in_arrears"] + [
        f"{code},2025-0{m},{10 + m},{1000 * m}.00,0" for code in registered for m in range(1, 7)])
    _, first = ingest(cli, "social_insurance", path)
    _, second = ingest(cli, "social_insurance", path)
    assert first["inserted"] == 18
    assert (second["inserted"], second["updated"], second["unchanged"], second["rejected"]) == (0, 0, 18, 0)
    assert second["delivery_id"] != first["delivery_id"]


def test_changed_row_is_updated_on_its_natural_key(tmp_path, cli, registered, db_session):
    code = registered[0]
    header = "uscc,month,kind,consumption,billed,paid,days_late"
    ingest(cli, "utilities", write(tmp_path / "u1.csv", [header, f"{code},2025-03,electricity,1500.5,980.00,980.00,0",
                                                          f"{code},2025-03,water,30,90.00,90.00,0"]))
    _, summary = ingest(cli, "utilities", write(tmp_path / "u2.csv", [
        header, f"{code},2025-03,electricity,1500.5,980.00,500.00,12", f"{code},2025-03,water,30,90.00,90.00,0"]))
    assert (summary["inserted"], summary["updated"], summary["unchanged"]) == (0, 1, 1)
    row = db_session.get(UtilityMonth, (code, date(2025, 3, 1), "electricity"))
    assert (row.paid_fen, row.days_late, row.delivery_id) == (50000, 12, summary["delivery_id"])


def test_duplicate_key_in_one_file_is_rejected_so_redelivery_stays_a_no_op(tmp_path, cli, registered):
    code = registered[1]
    path = write(tmp_path / "hf.csv", ["uscc,month,contributors,contributions,in_arrears",
                                       f"{code},2025-01,5,500,0", f"{code},2025-01,6,600,0"])
    _, first = ingest(cli, "housing_fund", path)
    _, second = ingest(cli, "housing_fund", path)
    assert (first["inserted"], first["rejected"]) == (1, 1)
    assert (second["inserted"], second["updated"], second["unchanged"], second["rejected"]) == (0, 0, 1, 1)


def test_rows_always_add_up(tmp_path, cli, registered):
    lines = ["uscc,year,rating"] + [f"{code},2024,{grade}" for code, grade in zip(registered, "ABX", strict=True)]
    _, summary = ingest(cli, "tax_rating", write(tmp_path / "rating.csv", lines + ["too,many,cells,here"]))
    assert summary["rows"] == summary["inserted"] + summary["updated"] + summary["unchanged"] + summary["rejected"] == 4
    assert summary["rejected"] == 2


def test_json_lines_delivery_with_a_broken_line(tmp_path, cli, registered):
    code = registered[2]
    good = {"record_id": "SJ-2024-001", "uscc": code, "kind": "行政处罚", "severity": "轻微",
            "decided_on": "2024-05-06", "repaired_on": None}
    lines = [json.dumps(good, ensure_ascii=False), "{not json", json.dumps([1, 2]),
             json.dumps({**good, "record_id": "SJ-2024-002", "repaired_on": "2024-01-01"}),
             json.dumps({**good, "record_id": "SJ-2024-003", "colour": "red"})]
    _, summary = ingest(cli, "public_credit", write(tmp_path / "pc.jsonl", lines))
    assert (summary["rows"], summary["inserted"], summary["rejected"]) == (5, 1, 4)
    with open(summary["rejection_report"], encoding="utf-8") as handle:
        fields = [(r["line"], r["field"]) for r in csv.DictReader(handle)]
    assert fields == [("2", "-"), ("3", "-"), ("4", "repaired_on"), ("5", "colour")]
    assert count_rows(PublicCreditEvent) == 1


def test_wrong_header_fails_in_one_line_and_writes_nothing(tmp_path, cli, registered):
    before = count_rows(Delivery)
    result, _ = ingest(cli, "tax", write(tmp_path / "bad.csv", ["uscc,month,sales,tax_paid,in_arrears",
                                                                 f"{registered[0]},2025-01,1,1,0"]))
    assert result.exit_code != 0
    message = result.output.strip().splitlines()
    assert len(message) == 1
    assert "invoiced_sales" in message[0]
    assert "sales" in message[0]
    assert count_rows(Delivery) == before
    assert count_rows(TaxMonth) == 0


@pytest.mark.parametrize(("source", "name", "content", "expected"), [
    ("weather", "w.csv", b"a\n", "unknown source"),
    ("tax", "missing.csv", None, "cannot read file"),
    ("tax", "latin1.csv", "uscc,month,invoiced_sales,tax_paid,in_arrears\n\xe9\n".encode("latin-1"), "not UTF-8"),
    ("tax", "tax.xlsx", b"PK", "use .csv"),
    ("tax", "empty.csv", b"", "no header"),
])
def test_unusable_delivery_fails_and_writes_nothing(tmp_path, cli, source, name, content, expected):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    before = count_rows(Delivery)
    result, _ = ingest(cli, source, path)
    assert result.exit_code != 0
    assert expected in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert count_rows(Delivery) == before


def test_file_broken_half_way_leaves_nothing_behind(tmp_path, cli, registered, monkeypatch):
    """A decoding failure after the first batch was written rolls the whole delivery back."""
    monkeypatch.setattr("xinyidai.ingest.validation.BATCH_ROWS", 2)
    code = registered[0]
    good = [f"{code},2024-{m:02d},1,1,0" for m in range(1, 7)]
    body = "\n".join(["uscc,month,invoiced_sales,tax_paid,in_arrears", *good]).encode() + b"\n\xff\xfe\n"
    (tmp_path / "tax.csv").write_bytes(body)
    before = count_rows(Delivery)
    result, _ = ingest(cli, "tax", tmp_path / "tax.csv")
    assert result.exit_code != 0
    assert "UTF-8" in result.output
    assert count_rows(TaxMonth) == 0
    assert count_rows(Delivery) == before



@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_delivery_cut_off_mid_row_is_refused_whole_and_applies_once_complete(tmp_path, cli, registered, fmt):
    """A transfer cut off mid-line would otherwise store its last row with a number short of its last digits."""
    code = registered[0]
    if fmt == "csv":
        lines = ["uscc,month,invoiced_sales,tax_paid,in_arrears",
                 *(f"{code},2024-{m:02d},1234567.89,12345.67,0" for m in range(1, 13))]
        complete = "\n".join(lines) + "\n"
    else:
        rows = [{"uscc": code, "month": f"2024-{m:02d}", "invoiced_sales": "1234567.89", "tax_paid": "12345.67",
                 "in_arrears": False} for m in range(1, 13)]
        complete = "".join(json.dumps(row) + "\n" for row in rows)
    cut = complete[:complete.rindex("12345.67") + 5]  # mid-row: the last amount lost its last digits
    before = count_rows(Delivery)
    (tmp_path / f"tax.{fmt}").write_text(cut, encoding="utf-8")
    result, _ = ingest(cli, "tax", tmp_path / f"tax.{fmt}")
    assert result.exit_code != 0
    assert "cut off in transfer" in result.output
    assert "传输不完整" in result.output
    assert (count_rows(TaxMonth), count_rows(Delivery)) == (0, before)
    (tmp_path / f"tax.{fmt}").write_text(complete, encoding="utf-8")
    result, summary = ingest(cli, "tax", tmp_path / f"tax.{fmt}")
    assert (summary["rows"], summary["inserted"], summary["rejected"]) == (12, 12, 0)


def test_inbox_files_a_cut_off_delivery_under_failed(tmp_path, cli, registered):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "tax_rating_2025.csv").write_text(f"uscc,year,rating\n{registered[0]},2025,A\n{registered[1]},20",
                                              encoding="utf-8")
    result = cli.invoke(args=["ingest-inbox", str(inbox)])
    assert result.exit_code == 1
    assert "cut off in transfer" in result.output
    assert (inbox / "failed" / "tax_rating_2025.csv").exists()
    assert count_rows(Delivery) == 1  # the registry delivery of the fixture only

def test_registry_validates_industry_and_district(tmp_path, cli):
    rows = [
        f"{fresh_uscc('310101')},甲公司,310101,C,13,2010-01-01,100.00,存续,微",
        f"{fresh_uscc('310101')},乙公司,310199,C,13,2010-01-01,100.00,存续,微",  # not a district
        f"{fresh_uscc('310101')},丙公司,310101,C,65,2010-01-01,100.00,存续,微",  # 65 is not manufacturing
        f"{fresh_uscc('310101')},丁公司,310101,C,13,2010-01-01,-5,存续,微",  # negative capital
        f"{fresh_uscc('310101')},戊公司,310101,C,13,2099-01-01,100.00,operating,micro",  # future date
    ]
    _, summary = ingest(cli, "registry", write(tmp_path / "reg.csv", [REGISTRY_HEADER, *rows]))
    assert (summary["inserted"], summary["rejected"]) == (1, 4)
    with open(summary["rejection_report"], encoding="utf-8") as handle:
        fields = [r["field"] for r in csv.DictReader(handle)]
    assert fields == ["district_code", "industry_division", "registered_capital", "established_on"]
    assert count_rows(Enterprise) >= 1


def test_money_is_stored_exactly_in_fen(tmp_path, cli, registered, db_session):
    code = registered[0]
    ingest(cli, "tax", write(tmp_path / "t.csv", ["uscc,month,invoiced_sales,tax_paid,in_arrears",
                                                   f"{code},2024-07,99999999999.99,0.1,否"]))
    row = db_session.get(TaxMonth, (code, date(2024, 7, 1)))
    assert (row.invoiced_sales_fen, row.tax_paid_fen, row.in_arrears) == (9_999_999_999_999, 10, False)


def test_parallel_validation_gives_the_same_result_as_in_process(tmp_path, cli, registered, monkeypatch):
    """Large files are validated in worker processes; the outcome must not depend on that."""
    a, b, _ = registered
    lines = ["uscc,month,invoiced_sales,tax_paid,in_arrears"] + [
        f"{a},2023-{m:02d},{m}00.00,1.00,0" for m in range(1, 13)] + [
        f"{b},2023-13,1,1,0", f"{a},2023-01,5,5,0", "not,enough"]
    path = write(tmp_path / "tax.csv", lines)
    monkeypatch.setattr("xinyidai.ingest.loader.PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr("xinyidai.ingest.validation.BATCH_ROWS", 4)
    _, summary = ingest(cli, "tax", path)
    assert (summary["rows"], summary["inserted"], summary["rejected"]) == (15, 12, 3)
    with open(summary["rejection_report"], encoding="utf-8") as handle:
        assert [(r["line"], r["field"]) for r in csv.DictReader(handle)] == [
            ("14", "month"), ("15", "uscc+month"), ("16", "-")]


def test_inbox_loads_each_waiting_file_and_files_it_away(tmp_path, cli, registered):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write(inbox / "tax_rating_2025.csv", ["uscc,year,rating", f"{registered[0]},2025,A", f"{registered[1]},2025,Q"])
    write(inbox / "weather_2025.csv", ["a,b", "1,2"])
    result = cli.invoke(args=["ingest-inbox", str(inbox), "--json"])
    assert result.exit_code == 1  # one file failed
    lines = [json.loads(line) for line in result.output.splitlines()]
    loaded = next(line for line in lines if line.get("source") == "tax_rating")
    assert (loaded["inserted"], loaded["rejected"]) == (1, 1)
    assert (inbox / "done" / "tax_rating_2025.csv").exists()
    assert (inbox / "done" / "tax_rating_2025.csv.rejected.csv").exists()
    assert (inbox / "failed" / "weather_2025.csv").exists()
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == []


def test_a_bulk_delivery_refreshes_the_planners_statistics_on_postgresql(tmp_path, cli, registered, db_session,
                                                                         monkeypatch):
    """After a large delivery the table is ANALYZEd at once: until autovacuum gets to it (if it is on), the
    planner would take a table that grew by millions of rows for an empty one."""
    if db_session.get_bind().dialect.name != "postgresql":
        pytest.skip("planner statistics are refreshed on PostgreSQL only")
    from xinyidai.ingest import loader

    monkeypatch.setattr(loader, "BULK_ROWS", 6)
    header = "uscc,month,kind,consumption,billed,paid,days_late"

    def analyzed_rows():
        return db_session.scalar(sa.text("SELECT reltuples FROM pg_class WHERE relname = 'utility_months'"))

    db_session.execute(sa.text("DELETE FROM utility_months"))
    small = [f"{code},2025-0{m},water,30,90.00,90.00,0" for code in registered for m in (1,)]
    ingest(cli, "utilities", write(tmp_path / "small.csv", [header, *small]))
    before = analyzed_rows()
    assert before != len(small)  # three rows: below the bulk size, left to autovacuum
    bulk = [f"{code},2025-0{m},water,30,90.00,90.00,0" for code in registered for m in (2, 3, 4)]
    ingest(cli, "utilities", write(tmp_path / "bulk.csv", [header, *bulk]))
    assert analyzed_rows() == len(small) + len(bulk)
