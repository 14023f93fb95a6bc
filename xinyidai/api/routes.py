"""/api/v1 operations. Each parses (marshmallow via flask-smorest), calls a bank service, and commits.

Every operation is scoped to the token's bank: another bank's product or application is a 404, exactly
like one that does not exist.
"""

from __future__ import annotations

import hashlib
import json
from http import HTTPStatus

import sqlalchemy as sa
from flask import abort, current_app, g, request
from flask_smorest import Blueprint
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from models.identity import ApiIdempotencyKey, ApiToken
from models.lending import Application, ApplicationState, Channel, LoanPerformance, Product
from xinyidai.api import json_body, schemas
from xinyidai.api.json_body import BoundedParser
from xinyidai.api.problems import http_problem, problem
from xinyidai.audit import record
from xinyidai.domain import products as operations
from xinyidai.domain.authorizations import enterprise_view
from xinyidai.domain.bank_schemas import (
    ApproveSchema,
    DeclineSchema,
    DisburseSchema,
    ProductSchema,
    ReassignSchema,
    RepaymentSchema,
)
from xinyidai.domain.errors import Invalid, NotFound
from xinyidai.domain.lifecycle import Actor, Disbursement, IllegalTransition
from xinyidai.domain.pipeline import PipelineFilters, bank_applications, pipeline_page
from xinyidai.domain.tokens import TOKEN_PREFIX, authenticate_token
from xinyidai.extensions import db

S = ApplicationState
blp = Blueprint("api", __name__, url_prefix="/api/v1",
                description="Products, the pipeline, decisions and loan outcomes of one bank (its token's bank).")
blp.ARGUMENTS_PARSER = BoundedParser()  # JSON bodies read with bounded numbers, depth and no lone surrogates


def problems(*codes: int):
    """Document the error answers an operation can give (all application/problem+json)."""

    def decorate(view):
        for code in codes:
            view = blp.alt_response(code, response=HTTPStatus(code).name)(view)
        return view

    return decorate


# ---------------------------------------------------------------- authentication and errors

@blp.before_request
def authenticate():
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    token = authenticate_token(db.session, presented.strip()) if scheme.lower() == "bearer" else None
    if token is None:
        # Kept like a failed login (who tried, from where); the limiter bounds how many an address can add.
        shown = presented.strip()[:12] if presented.strip().startswith(TOKEN_PREFIX) else None
        record(db.session, "api_auth_failed", actor_label=shown, remote_addr=request.remote_addr,
               detail={"scheme": scheme[:16] or None, "path": request.path[:200]})
        db.session.commit()
        abort(401)
    g.api_token = token
    if db.session.dirty:  # last_used_at moved (at most once a minute): otherwise no commit, no reload of the token
        db.session.commit()
    if request.method == "POST":
        return _same_key_same_request()
    return None


def _request_digest() -> str:
    """What a POST asked for: its body (JSON compared as data, so spacing and key order do not matter;
    anything else as bytes)."""
    body = request.get_data(cache=True)
    try:
        canonical = json.dumps(json_body.loads(body.decode("utf-8")), sort_keys=True, default=repr).encode() \
            if body.strip() else b""
    except (ValueError, UnicodeDecodeError):
        canonical = body
    return hashlib.sha256(canonical).hexdigest()


def _scoped(key: str) -> str:
    """A key is the client's per operation: the stored key is the digest of the path and the key."""
    return hashlib.sha256(request.path.encode() + b"\0" + key.encode()).hexdigest()


def _same_key_same_request():
    """Refuse a key already used by this bank for a different request (before anything is parsed or applied)."""
    key = request.headers.get("Idempotency-Key", "")
    if not key or len(key) > 128:
        return None  # the operation's own header schema refuses it
    g.idempotency = (_scoped(key), _request_digest())
    earlier = db.session.scalar(sa.select(ApiIdempotencyKey).where(ApiIdempotencyKey.bank_id == _token().bank_id,
                                                                  ApiIdempotencyKey.key == g.idempotency[0]))
    if earlier is not None and earlier.request_sha256 != g.idempotency[1]:
        g.idempotency = None
        return problem(409, "该幂等键已用于另一份不同的请求", detail_en="this idempotency key was already used for a "
                       "different request", kind="https://xinyidai.example/problems/idempotency-conflict")
    return None


@blp.after_request
def _remember_key(response):
    """Keep every POST's key and request digest, whatever the answer (not a server error: that may be retried)."""
    idempotency = g.pop("idempotency", None)
    if idempotency is None or response.status_code >= 500 or not hasattr(g, "api_token"):
        return response
    key, digest = idempotency
    try:
        with db.session.begin_nested():
            exists = db.session.scalar(sa.select(ApiIdempotencyKey.id).where(
                ApiIdempotencyKey.bank_id == _token().bank_id, ApiIdempotencyKey.key == key))
            if exists is None:
                db.session.add(ApiIdempotencyKey(bank_id=_token().bank_id, key=key, request_sha256=digest,
                                                 status=response.status_code))
        db.session.commit()
    except IntegrityError:  # the same key arrived twice at once: the other request recorded it
        db.session.rollback()
    return response


def _token() -> ApiToken:
    return g.api_token


def _actor() -> Actor:
    return Actor(Channel.API, token_id=_token().id)


@blp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    db.session.rollback()
    return http_problem(error)


@blp.errorhandler(NotFound)
def _not_found(error: NotFound):
    db.session.rollback()
    return problem(404, "对象不存在", detail_en="no such object for this bank")


@blp.errorhandler(IllegalTransition)
def _illegal(error: IllegalTransition):
    db.session.rollback()
    return problem(409, error.zh, detail_en=error.en, kind="https://xinyidai.example/problems/illegal-transition")


@blp.errorhandler(Invalid)
def _invalid(error: Invalid):
    db.session.rollback()
    return problem(422, "请求内容未通过校验", detail_en="the request did not validate", errors=error.errors)


@blp.errorhandler(Exception)
def _unexpected(error: Exception):
    db.session.rollback()
    current_app.logger.exception("API error")
    return problem(500, "服务器内部错误，请稍后再试", detail_en="internal error; please retry later")


# ---------------------------------------------------------------- products

@blp.route("/products", methods=["GET"])
@blp.response(200, schemas.ProductOut(many=True))
@problems(401)
def list_products():
    """The bank's loan products."""
    return db.session.scalars(sa.select(Product).where(Product.bank_id == _token().bank_id).order_by(Product.code)).all()


@blp.route("/products", methods=["POST"])
@blp.arguments(schemas.IdempotencyHeader, location="headers", as_kwargs=True)
@blp.arguments(ProductSchema)
@blp.response(201, schemas.ProductOut)
@problems(401, 409, 422)
def create_product(data, idempotency_key):
    """List a new product; it is matched against the open needs at once. A retry with the same key creates nothing."""
    product = operations.create_product(db.session, _token().bank_id, _plain(data), _actor(),
                                        idempotency_key=idempotency_key)
    db.session.commit()
    return product


@blp.route("/products/<int:product_id>", methods=["GET"])
@blp.response(200, schemas.ProductOut)
@problems(401, 404)
def get_product(product_id: int):
    return operations.bank_product(db.session, _token().bank_id, product_id)


@blp.route("/products/<int:product_id>", methods=["PATCH"])
@blp.arguments(schemas.ProductPatchSchema)
@blp.response(200, schemas.ProductOut)
@problems(401, 404, 422)
def update_product(data, product_id: int):
    """Edit or pause (`"status": "paused"`) a product. Applications already matched keep their terms."""
    product = operations.bank_product(db.session, _token().bank_id, product_id)
    operations.update_product(db.session, product, _plain(data), _actor())
    db.session.commit()
    return product


def _plain(data: dict) -> dict:
    return {k: (v.value if hasattr(v, "value") else v) for k, v in data.items()}


# ---------------------------------------------------------------- pipeline and applications

@blp.route("/pipeline", methods=["GET"])
@blp.arguments(schemas.PipelineQuery, location="query", as_kwargs=True)
@blp.response(200, schemas.PipelinePageOut)
@problems(401, 422)
def pipeline(page: int, per_page: int, **filters):
    """Open matches of the bank's products, newest first (or `sort=oldest|rank`); `has_more` says if a next page exists."""
    result = pipeline_page(db.session, _token().bank_id, PipelineFilters(**filters), page=page, per_page=per_page,
                           sla_working_days=current_app.config["XYD_CLAIM_SLA_WORKING_DAYS"])
    items = [{"application_id": row.application.id, "product_id": row.application.product_id, "need": row.need,
              "match_rank": row.application.match_rank, "matched_at": row.application.created_at,
              "sla_due_at": row.sla_due_at, "district_code": row.district_code,
              "industry_section": row.industry_section, "size_class": row.size_class, "grade": row.grade,
              "whitelisted": row.whitelisted} for row in result.rows]
    return {"items": items, "page": result.page, "per_page": result.per_page, "has_more": result.has_more}


@blp.route("/applications", methods=["GET"])
@blp.arguments(schemas.ApplicationsQuery, location="query", as_kwargs=True)
@blp.response(200, schemas.ApplicationPageOut)
@problems(401, 422)
def list_applications(page: int, per_page: int, state: ApplicationState | None = None):
    """The bank's applications in any state (filter with `state`), latest activity first."""
    result = bank_applications(db.session, _token().bank_id, [state] if state else None, page=page, per_page=per_page)
    return {"items": result.rows, "page": result.page, "per_page": result.per_page, "has_more": result.has_more}


@blp.route("/applications/<int:application_id>", methods=["GET"])
@blp.response(200, schemas.ApplicationDetailOut)
@problems(401, 404)
def get_application(application_id: int):
    """One application. The enterprise's detail is included only while its authorization names this bank;
    each such view is written to the audit log."""
    application = operations.bank_application(db.session, _token().bank_id, application_id)
    view = enterprise_view(db.session, application, _actor(), remote_addr=request.remote_addr)
    db.session.commit()
    return _with_enterprise(application, view)


class _WithEnterprise:
    """An application seen together with what the bank may see of its enterprise."""

    def __init__(self, application: Application, enterprise: dict):
        self._application, self.enterprise = application, enterprise

    def __getattr__(self, name):
        return getattr(self._application, name)


def _with_enterprise(application: Application, view) -> _WithEnterprise:
    return _WithEnterprise(application, {
        "summary": view.summary, "detail_visible": view.detail is not None,
        "authorization_id": view.authorization.id if view.authorization else None, "detail": view.detail})


@blp.route("/applications/<int:application_id>/outcomes", methods=["GET"])
@blp.response(200, schemas.PerformanceOut(many=True))
@problems(401, 404)
def outcomes(application_id: int):
    """The month-end loan performance rows the bank reported for this application."""
    application = operations.bank_application(db.session, _token().bank_id, application_id)
    return db.session.scalars(sa.select(LoanPerformance).where(LoanPerformance.application_id == application.id)
                              .order_by(LoanPerformance.as_of)).all()


@blp.route("/officers", methods=["GET"])
@blp.response(200, schemas.OfficerOut(many=True))
@problems(401)
def officers():
    """The bank's active officers (for reassigning a claimed application)."""
    return operations.bank_officers(db.session, _token().bank_id)


# ---------------------------------------------------------------- decisions and outcomes

def _report(application_id: int, report: operations.OutcomeReport, key: str) -> Application:
    application = operations.bank_application(db.session, _token().bank_id, application_id, lock=True)
    operations.report_outcome(db.session, application, report, _actor(), idempotency_key=key)
    db.session.commit()
    return application


def _action(rule: str, name: str, doc: str, body=None, *, body_required: bool = True):
    """Register one POST action: Idempotency-Key header, optional body, 200 with the application."""

    def register(build_report):
        def view(*args, **kwargs):
            key = kwargs.pop("idempotency_key")
            data = args[0] if args else None
            return _report(kwargs["application_id"], build_report(data), key)

        view.__name__, view.__doc__ = name, doc
        decorated = problems(401, 404, 409, 422)(blp.response(200, schemas.ApplicationOut)(view))
        if body is not None:
            decorated = blp.arguments(body, required=body_required)(decorated)
        decorated = blp.arguments(schemas.IdempotencyHeader, location="headers", as_kwargs=True)(decorated)
        blp.route(f"/applications/<int:application_id>/{rule}", methods=["POST"], endpoint=name)(decorated)
        return build_report

    return register


@_action("claim", "claim", "受理 (claim) a matched application; no other bank can claim the need while this stands.")
def _claim(_data):
    return operations.OutcomeReport(S.CLAIMED)


@_action("approve", "approve", "Approve a claimed application, with the terms approved (amount_fen, term_months, "
                                "rate_bp: all three, or an empty body for none) — the offer the enterprise sees "
                                "before the disbursement, as on the web.", ApproveSchema, body_required=False)
def _approve(data):
    data = data or {}
    if data.get("amount_fen") is None:
        return operations.OutcomeReport(S.APPROVED)
    return operations.OutcomeReport(S.APPROVED, approval=operations.Approval(
        data["amount_fen"], data["term_months"], data["rate_bp"]))


@_action("decline", "decline", "Decline with a reason code from the fixed list, and optional text. "
                                "The need becomes open to the other matching banks again.", DeclineSchema)
def _decline(data):
    return operations.OutcomeReport(S.DECLINED, reason_code=data["reason_code"], reason_text=data.get("reason_text"))


@_action("disburse", "disburse", "Report the disbursement (amount, rate, term, date, guarantee type).", DisburseSchema)
def _disburse(data):
    return operations.OutcomeReport(S.DISBURSED, disbursement=Disbursement(**data))


@_action("repayment", "repayment", "Report repayment status (repaying, overdue with days past due, repaid, "
                                   "defaulted); with as_of and outstanding_fen also the month-end performance row.",
         RepaymentSchema)
def _repayment(data):
    return operations.OutcomeReport(S(data["status"]), days_past_due=data.get("days_past_due"),
                                    as_of=data.get("as_of"), outstanding_fen=data.get("outstanding_fen"))


@blp.route("/applications/<int:application_id>/reassign", methods=["POST"])
@blp.arguments(schemas.IdempotencyHeader, location="headers", as_kwargs=True)
@blp.arguments(ReassignSchema)
@blp.response(200, schemas.ApplicationOut)
@problems(401, 404, 409, 422)
def reassign(data, application_id: int, idempotency_key: str):
    """Hand a claimed application to another officer of the same bank (repeating it changes nothing)."""
    application = operations.bank_application(db.session, _token().bank_id, application_id, lock=True)
    operations.reassign(db.session, application, data["officer_id"], _actor())
    db.session.commit()
    return application
