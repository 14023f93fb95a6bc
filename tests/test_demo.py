"""The demo population (`xyd demo seed`): deterministic, valid, loaded through ingestion, with a lending
history in every lifecycle state whose labels agree with the loan performance the banks reported."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from datetime import date
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from flask import current_app

from models.enterprise import Enterprise
from models.lending import Application, ApplicationEvent, ApplicationState, LoanPerformance
from models.sources import Delivery
from xinyidai.demo import clock
from xinyidai.demo.deliveries import FILES, write_deliveries
from xinyidai.demo.logins import DEMO_PASSWORD, demo_logins
from xinyidai.demo.population import draw_enterprises
from xinyidai.demo.risk import features_as_of, true_pd
from xinyidai.demo.seed import generate, seed_demo, write_truth
from xinyidai.demo.store import DemoAlreadySeeded
from xinyidai.domain.lifecycle import BANK_MOVES, DECLINE_REASONS, ENTERPRISE_MOVES
from xinyidai.domain.users import authenticate
from xinyidai.reference import SHANGHAI_DISTRICTS
from xinyidai.uscc import validate_uscc

SMALL = 200
SHANGHAI_TZ = ZoneInfo("Asia/Shanghai")
DISBURSED_STATES = {"disbursed", "repaying", "repaid", "overdue", "defaulted"}


@pytest.fixture(scope="module")
def generated():
    return generate(SMALL, 7)


def _write_all(data, folder):
    write_deliveries(folder / "deliveries", data.firms, data.history, data.ratings, data.events, data.later)
    write_truth(folder / "truth.csv", data.truth)
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_same_seed_gives_identical_files_and_truth(tmp_path, generated):
    first = _write_all(generated, tmp_path / "first")
    second = _write_all(generate(SMALL, 7), tmp_path / "second")
    assert [p.relative_to(tmp_path / "first") for p in first] == [p.relative_to(tmp_path / "second") for p in second]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second, strict=True))
    assert len(first) == len(FILES) + 1
    other = generate(SMALL, 8)
    assert set(other.firms.uscc).isdisjoint(generated.firms.uscc)


def test_every_uscc_is_valid_unique_and_names_its_district(generated):
    codes = generated.firms.uscc
    assert codes.is_unique
    assert all(validate_uscc(code) == code for code in codes)
    assert (codes.str[:2] == "91").all()
    assert (codes.str[2:8] == generated.firms.district_code).all()


def test_population_looks_like_shanghai():
    firms = draw_enterprises(np.random.default_rng(7), 3000)
    districts = firms.district_code.value_counts()
    assert set(districts.index) == set(SHANGHAI_DISTRICTS)
    assert districts.index[0] == "310115"  # 浦东新区 is the largest
    sections = firms.industry_section.value_counts(normalize=True)
    assert set(sections.index[:5]) == {"F", "L", "M", "I", "C"}
    assert firms.size_class.isin(["小", "微"]).mean() > 0.85
    assert firms.name.is_unique
    assert firms.name.str.fullmatch(r"(上海\w{2,3}|\w{2,3}（上海）)\w+有限公司").all()
    assert firms.established_on.max() <= date(2026, 10, 31)


def test_monthly_history_runs_36_months_to_october_2026_with_a_spring_festival_dip(generated):
    assert len(clock.MONTHS) == 36
    assert clock.MONTHS[-1] == date(2026, 10, 1)
    history, labels = generated.history, list(clock.month_labels())
    for festival, before in (("2024-02", "2024-01"), ("2026-02", "2026-01")):
        now, then = history.sales[:, labels.index(festival)], history.sales[:, labels.index(before)]
        trading = np.isfinite(now) & (then > 0)
        assert np.median(now[trading] / then[trading]) < 0.9
    has = {kind: np.isfinite(columns["billed"]).any(axis=1).mean() for kind, columns in history.utilities.items()}
    assert has["electricity"] == 1.0
    assert 0.6 < has["water"] < 1.0
    assert 0.02 < has["gas"] < 0.5
    assert 0 < np.isnan(history.sales[:, -1]).mean() < 0.2  # some months are simply not delivered


def test_true_pd_at_disbursement_is_reproducible_from_the_delivered_data(generated):
    loans = generated.loans
    features = features_as_of(generated.firms, generated.history, generated.events, generated.ratings,
                              loans.firm.to_numpy(), loans.month.to_numpy())
    assert np.allclose(true_pd(features), loans.pd)


def test_application_histories_follow_the_lifecycle_rules(generated):
    plan = generated.plan
    events = defaultdict(list)
    for event in plan.events:
        events[event["app_key"]].append(event)
    claims_by_need = defaultdict(list)
    for app in plan.applications:
        history = events[app["key"]]
        assert history[0]["from_state"] is None
        assert history[0]["to_state"] == "matched"
        for earlier, later in zip(history, history[1:], strict=False):
            assert later["from_state"] == earlier["to_state"]
            assert later["occurred_at"] >= earlier["occurred_at"]
            moves = ENTERPRISE_MOVES if later["to_state"] == "withdrawn" else BANK_MOVES
            assert ApplicationState(later["to_state"]) in moves[ApplicationState(later["from_state"])], app
        assert history[-1]["to_state"] == app["state"]
        assert history[-1]["occurred_at"] <= clock.DEMO_NOW
        if app["decline_reason_code"]:
            assert app["decline_reason_code"] in DECLINE_REASONS
        held = [e["occurred_at"] for e in history if e["to_state"] == "claimed"]
        released = [e["occurred_at"] for e in history if e["to_state"] in ("declined", "withdrawn", "disbursed")]
        if held:
            claims_by_need[app["need_key"]].append((held[0], released[0] if released else clock.DEMO_NOW))
    for spans in claims_by_need.values():  # one bank holds a need's claim at a time
        spans.sort()
        assert all(end <= start for (_, end), (start, _) in zip(spans, spans[1:], strict=False))


def _seed(db_session, tmp_path):
    return seed_demo(db_session, tmp_path, enterprises=SMALL, seed=7)


@pytest.mark.slow
def test_seed_loads_every_source_through_ingestion_without_rejections(db_session, tmp_path):
    summary = _seed(db_session, tmp_path)
    assert set(summary["deliveries"]) == set(FILES)
    assert all(d["rows"] > 0 and d["rejected"] == 0 and d["inserted"] == d["rows"]
               for d in summary["deliveries"].values()), summary["deliveries"]
    files = {d.filename for d in db_session.scalars(sa.select(Delivery))}
    assert set(FILES.values()) <= files
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Enterprise)) >= SMALL
    with (tmp_path / "demo" / "truth.csv").open(encoding="utf-8") as handle:
        truth = list(csv.DictReader(handle))
    assert list(truth[0]) == ["uscc", "true_pd_12m", "defaulted", "disbursed_on"]
    assert len(truth) == SMALL
    labelled = [row for row in truth if row["defaulted"]]
    assert 0.4 < len(labelled) / SMALL < 0.75
    assert all(row["disbursed_on"] == "" for row in truth if not row["defaulted"])
    for login in demo_logins():
        assert authenticate(login["username"], DEMO_PASSWORD) is not None, login
    # credit repair (issue 17): repaired and unrepaired records in the delivery, and the demo enterprise's story
    from models.credit import RepairCase, RepairState
    from models.sources import PublicCreditEvent
    from xinyidai.domain.credit_repair import evidence_dir, evidence_path

    repaired = PublicCreditEvent.repaired_on.is_not(None)
    assert db_session.scalar(sa.select(sa.func.count()).select_from(PublicCreditEvent).where(repaired)) > 0
    assert db_session.scalar(sa.select(sa.func.count()).select_from(PublicCreditEvent).where(~repaired)) > 0
    cases = {c.state: c for c in db_session.scalars(sa.select(RepairCase).where(
        RepairCase.uscc == summary["demo_enterprise"]))}
    assert set(cases) == {RepairState.APPLIED, RepairState.REPAIRED}
    assert evidence_path(evidence_dir(tmp_path), cases[RepairState.APPLIED]).read_bytes().startswith(b"%PDF-")
    with pytest.raises(DemoAlreadySeeded):
        _seed(db_session, tmp_path)


@pytest.mark.slow
def test_seeded_loans_and_their_performance_agree(db_session, tmp_path):
    _seed(db_session, tmp_path)
    apps = pd.DataFrame(db_session.execute(sa.select(
        Application.id, Application.state, Application.uscc, Application.disbursed_on,
        Application.decline_reason_code)).all())
    performance = pd.DataFrame(db_session.execute(sa.select(
        LoanPerformance.application_id, LoanPerformance.as_of, LoanPerformance.days_past_due,
        LoanPerformance.status)).all())
    apps["state"] = apps.state.astype(str)
    # The guarantee step is a current state only of a still-claimed policy-guarantee loan, which a 200-firm demo
    # may not have (test_the_demo_has_two_guarantors… checks the step in every history instead).
    step = {ApplicationState.GUARANTEE_REQUESTED.value, ApplicationState.GUARANTEED.value}
    assert set(apps.state) - step == {s.value for s in ApplicationState} - step
    assert apps[apps.state == "declined"].decline_reason_code.notna().all()
    disbursed = set(apps[apps.state.isin(DISBURSED_STATES)].id)
    assert set(performance.application_id) <= disbursed
    assert apps[apps.state.isin(DISBURSED_STATES)].disbursed_on.notna().all()
    assert apps[~apps.state.isin(DISBURSED_STATES)].disbursed_on.isna().all()
    severe = performance[(performance.days_past_due >= 90) | performance.status.astype(str).isin(
        ["defaulted", "written_off"])]
    assert set(severe.application_id) == set(apps[apps.state == "defaulted"].id)
    with (tmp_path / "demo" / "truth.csv").open(encoding="utf-8") as handle:
        labels = {(row["uscc"], date.fromisoformat(row["disbursed_on"])): int(row["defaulted"])
                  for row in csv.DictReader(handle) if row["defaulted"]}
    historical = apps[[(u, d) in labels for u, d in zip(apps.uscc, apps.disbursed_on, strict=True)]]
    assert len(historical) == len(labels)
    for loan in historical.itertuples():
        horizon = clock.add_months(loan.disbursed_on.replace(day=1), 12).replace(day=min(loan.disbursed_on.day, 28))
        rows = performance[(performance.application_id == loan.id) & (performance.as_of <= horizon)]
        assert int((rows.days_past_due >= 90).any()) == labels[loan.uscc, loan.disbursed_on], loan
    assert db_session.scalar(sa.select(sa.func.count()).select_from(ApplicationEvent)) > len(apps)


def test_the_demo_has_two_guarantors_and_guaranteed_loans_whose_history_holds_the_guarantee_step(db_session, tmp_path):
    """银担合作 in the demo (issue 18 item 4): two guarantors with products and logins, the policy-guarantee loan
    products require one, and every approval of those loans follows a guarantee the guarantor accepted."""
    from models.guarantee import Guarantee, GuaranteeStatus, Guarantor
    from models.lending import Product
    from xinyidai.domain.lifecycle import GUARANTOR_MOVES

    summary = _seed(db_session, tmp_path)
    assert summary["guarantors"] == 2
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Guarantor)) == 2
    required = db_session.scalars(sa.select(Product).where(Product.guarantor_required.is_(True))).all()
    assert {p.code for p in required} == {"ZCXDB", "DBD"}
    guaranteed = {p.id for p in required}
    accepted = db_session.scalars(sa.select(Guarantee).where(Guarantee.status == GuaranteeStatus.ACCEPTED)).all()
    assert len(accepted) >= 3
    claimed_before = [a for a in db_session.scalars(sa.select(Application).where(Application.product_id.in_(guaranteed)))
                      if any(e.to_state is ApplicationState.CLAIMED for e in a.events) and not a.disbursed_on
                      and a.state is not ApplicationState.DECLINED and a.state is not ApplicationState.WITHDRAWN]
    if claimed_before:  # the first still-claimed one waits for its guarantor
        assert any(a.state is ApplicationState.GUARANTEE_REQUESTED for a in claimed_before)
    for application in db_session.scalars(sa.select(Application).where(Application.product_id.in_(guaranteed))):
        history = [(e.from_state, e.to_state) for e in application.events]
        for earlier, later in zip(history, history[1:], strict=False):
            assert later[0] == earlier[1], history
        approvals = [pair for pair in history if pair[1] is ApplicationState.APPROVED]
        assert all(from_state is ApplicationState.GUARANTEED for from_state, _ in approvals), [(a and a.value, b.value) for a, b in history]
        for from_state, to_state in history:
            if from_state is ApplicationState.GUARANTEE_REQUESTED:
                assert to_state in GUARANTOR_MOVES[from_state] | ENTERPRISE_MOVES[from_state] | BANK_MOVES[from_state]
        if approvals:
            assert application.guarantor_id is not None
            assert application.guarantee_fee_bp is not None
    for login in demo_logins(every_account=True):
        if login["username"].startswith("demo-guarantor-"):
            assert authenticate(login["username"], DEMO_PASSWORD) is not None


def test_the_later_sources_have_a_modest_effect_of_their_own_on_the_true_pd(generated):
    """Patents, tech certificates, environmental ratings and agricultural recognitions are drawn for the demo
    firms (issue 18 item 5) and, as a lender could see them on the day, move the true PD: a valid 高新 certificate
    lowers it, a red environmental grade raises it; with them blanked the PD is the first six sources' alone."""
    from xinyidai.demo import later_sources

    later = generated.later
    assert sorted(k for k, v in later.items() if len(v)) == ["agricultural_operator", "environmental_rating",
                                                             "intellectual_property", "qualifications"]
    loans = generated.loans
    features = features_as_of(generated.firms, generated.history, generated.events, generated.ratings,
                              loans.firm.to_numpy(), loans.month.to_numpy())
    blank = features.copy()
    for column in ("qual_high_tech", "qual_tech_sme", "qual_specialised", "qual_giant", "invention_patent",
                   "agri_operator"):
        blank[column] = False
    blank["env_grade"] = ""
    logit = np.log(true_pd(features) / (1 - true_pd(features))) - np.log(true_pd(blank) / (1 - true_pd(blank)))
    assert np.allclose(logit, later_sources.effect(features) - later_sources.effect(blank))
    flags = ["qual_high_tech", "qual_tech_sme", "qual_specialised", "qual_giant", "invention_patent", "agri_operator"]
    others = lambda *keep: np.column_stack([features[c] for c in flags if c not in keep]).any(axis=1)  # noqa: E731
    only_high_tech = features.qual_high_tech.to_numpy() & ~others("qual_high_tech") & (features.env_grade == "")
    assert only_high_tech.any()
    assert (logit[only_high_tech] < 0).all()
    red = (features.env_grade == "红").to_numpy() & ~others()
    assert red.any()
    assert (logit[red] > 0).all()
    assert 0 < np.abs(logit).mean() < 0.5  # modest beside the first six sources (several log-odds)


def test_seeded_later_sources_and_products_that_require_or_prefer_qualifications(db_session, tmp_path):
    """Every later source is delivered through ingestion; 科技快贷 requires a valid 高新技术企业 certificate and
    every one of its demo applications is of an enterprise holding one on its need's day (as the platform's
    own rule reads the delivered certificates); 科创贷 prefers the tech qualifications."""
    from models.lending import FinancingNeed, Product
    from xinyidai.domain.qualifications import held_for_needs

    summary = _seed(db_session, tmp_path)
    for source in ("intellectual_property", "qualifications", "environmental_rating", "agricultural_operator"):
        delivered = summary["deliveries"][source]
        assert delivered["rows"] > 0, source
        assert delivered["rejected"] == 0, (source, delivered)
    products = {p.code: p for p in db_session.scalars(sa.select(Product).where(Product.code.in_(("KJKD", "KCD"))))}
    assert products["KJKD"].required_qualifications == ["高新技术企业"]
    assert "高新技术企业" in products["KCD"].preferred_qualifications
    assert not products["KCD"].required_qualifications
    apps = db_session.scalars(sa.select(Application).where(Application.product_id == products["KJKD"].id)).all()
    needs = {n.id: n for n in db_session.scalars(sa.select(FinancingNeed).where(
        FinancingNeed.id.in_([a.need_id for a in apps])))}
    held = held_for_needs(db_session, needs.values())
    assert all("高新技术企业" in held[a.need_id] for a in apps)


@pytest.fixture(scope="module")
def default_demo():
    return generate(2000, 7)  # the population `xyd setup` generates (no database: about 3 s)


def test_the_default_demo_plans_qualification_products_only_for_holders_and_its_enterprise_holds_one(default_demo):
    """In the default demo 科技快贷 is lent only to firms whose delivered 高新技术企业 certificate is valid on the
    day their need was published, 科创贷 mostly to qualified firms, and the demo enterprise holds a certificate
    (its profile and a bank's view under its authorization show it)."""
    certificates = default_demo.later["qualifications"]
    valid = {}
    for row in certificates.itertuples(index=False):
        valid.setdefault((row.uscc, row.kind), []).append((date.fromisoformat(row.issued_on),
                                                           date.fromisoformat(row.expires_on)))
    plan = default_demo.plan
    published = {n["key"]: n["published_at"].astimezone(SHANGHAI_TZ).date() for n in plan.needs}
    tech_loans = [a for a in plan.applications if a["product_code"] == "KJKD"]
    assert len(tech_loans) >= 10
    for app in tech_loans:
        day = published[app["need_key"]]
        assert any(start <= day <= end for start, end in valid.get((app["uscc"], "高新技术企业"), [])), app
    sci = [a for a in plan.applications if a["product_code"] == "KCD"]
    holders = {u for u, _ in valid}
    assert sum(a["uscc"] in holders for a in sci) > len(sci) / 2
    assert (certificates.uscc == default_demo.demo_uscc).any()


@pytest.mark.slow
def test_cli_seeds_into_the_instance_folder_and_prints_logins(cli, db_session):
    result = cli.invoke(args=["demo", "seed", "--enterprises", str(SMALL)])
    assert result.exit_code == 0, result.output
    assert re.search(r"registry\s+200 rows, 0 rejected", result.output)
    folder = current_app.instance_path
    assert (pd.read_csv(f"{folder}/demo/truth.csv").shape[0]) == SMALL
    again = cli.invoke(args=["demo", "seed", "--enterprises", str(SMALL)])
    assert again.exit_code != 0
    assert "already" in again.output
    logins = cli.invoke(args=["demo", "logins"])
    assert logins.exit_code == 0
    lines = logins.output.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["enterprise", "bank", "guarantor", "office", "admin"]
    assert all(DEMO_PASSWORD in line for line in lines)
