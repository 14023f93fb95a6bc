"""The OpenAPI document against the API itself: schemathesis generates requests for every operation (valid
and invalid) and none may end in a server error; answers must match the documented statuses, content types
and schemas."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from models.lending import FinancingNeed
from xinyidai.domain.tokens import issue_token

pytestmark = pytest.mark.slow  # measured: pytest --durations (README "Tests")

EXAMPLES = 30


def valid_queries_are_accepted(ctx, response, case):
    """Reads carry no cross-field rules, so a query the document calls valid must not be refused."""
    meta = case.meta
    if meta is not None and meta.generation.mode.is_positive and case.method.upper() == "GET":
        assert response.status_code != 422, f"{case.path} refused a documented query {case.query}: {response.text}"


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          valid_queries_are_accepted]


@pytest.fixture
def bank_token(db_session, make_bank, make_product, make_application, make_enterprise):
    """A bank with a product, a few open matches and a token; ids 1..n exist so some requests hit real rows."""
    bank = make_bank()
    product = make_product(bank=bank)
    for _ in range(3):
        enterprise = make_enterprise()
        need = FinancingNeed(uscc=enterprise.uscc, amount_fen=50_000_000, term_months=12, purpose="working_capital",
                             guarantee_types=["信用"])
        db_session.add(need)
        db_session.flush()
        make_application(product=product, need=need)
    token = issue_token(db_session, bank, "schemathesis").token
    db_session.commit()
    return token


# schemathesis' pytest integration (lazy fixtures) does not run on pytest 9, so each operation is driven
# through its Hypothesis strategy here.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_never_answers_with_a_server_error(app, bank_token, mode):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    auth = {"Authorization": f"Bearer {bank_token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 13
    for operation in operations:

        @given(case=operation.as_strategy(mode, headers=auth))
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)
        def exercise(case):
            # negative_data_rejection: a request that violates the document must be refused (4xx), never obeyed
            case.call_and_validate(headers=auth, checks=CHECKS, additional_checks=[negative_data_rejection])

        try:
            exercise()
        except Unsatisfiable:
            # An operation whose only input is the (fixed) token has nothing to negate.
            assert mode is GenerationMode.NEGATIVE


def test_sequences_of_calls_never_answer_with_a_server_error(app, bank_token):
    """Stateful: schemathesis chains operations along the links it infers from the document (a product created,
    then read, changed and listed; an application read then claimed, approved, reported), with the same checks
    on every step."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    auth = {"Authorization": f"Bearer {bank_token}"}
    machine = schema.as_state_machine()
    # its transitions are rules named SOURCE_OPERATION___STATUS_LINK__TARGET_OPERATION
    transitions = [name for name in dir(machine) if name.startswith(("GET_", "POST_", "PATCH_", "PUT_"))]
    assert any(name.endswith("_claim") for name in transitions), "no inferred link leads to claiming an application"

    calls = []

    class Workflow(machine):
        def before_call(self, case):
            calls.append((case.method.upper(), case.path))

        def get_call_kwargs(self, case):
            return {"headers": auth}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS)

    Workflow.run(settings=settings(max_examples=EXAMPLES, stateful_step_count=6, deadline=None, derandomize=True,
                                   suppress_health_check=list(HealthCheck), database=None))
    chained = {path for _, path in calls}
    assert len(calls) > EXAMPLES, "the scenarios made no more calls than single requests would"
    assert len(chained) >= 5, f"the scenarios visited only {sorted(chained)}"
