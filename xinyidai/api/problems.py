"""Errors of the API as RFC 9457 `application/problem+json`: status, title, a plain detail (Chinese, with
`detail_en`), and for validation failures `errors`, the messages per field."""

from __future__ import annotations

from http import HTTPStatus

from flask import current_app, json, request
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

PROBLEM_JSON = "application/problem+json"
API_PREFIX = "/api/v1"


class ProblemSchema(Schema):
    """Documents the error payload (the handlers below build it)."""

    type = fields.String(metadata={"description": "a URI naming the kind of problem; about:blank when only the status says it"})
    title = fields.String(metadata={"description": "the HTTP status phrase"})
    status = fields.Integer()
    detail = fields.String(metadata={"description": "what went wrong, in Chinese"})
    detail_en = fields.String(metadata={"description": "what went wrong, in English"})
    errors = fields.Dict(keys=fields.String(), values=fields.Raw(),
                         metadata={"description": "validation messages per field (422)"})


def problem(status: int, detail: str | None = None, *, detail_en: str | None = None, errors: dict | None = None,
            kind: str = "about:blank", headers: dict | None = None):
    body = {"type": kind, "title": HTTPStatus(status).phrase, "status": status}
    if detail:
        body["detail"] = detail
    if detail_en:
        body["detail_en"] = detail_en
    if errors:
        body["errors"] = errors
    response = current_app.response_class(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_JSON)
    response.headers.update(headers or {})
    return response


_PLAIN = {
    400: ("请求格式错误", "the request is malformed"),
    401: ("需要有效的 API 令牌（Authorization: Bearer …）", "a valid API token is required (Authorization: Bearer …)"),
    403: ("无权执行此操作", "not allowed"),
    404: ("对象不存在", "no such object"),
    405: ("不支持该请求方法", "method not allowed"),
    409: ("与当前状态冲突", "conflicts with the current state"),
    413: ("请求体过大", "request body too large"),
    415: ("不支持的内容类型", "unsupported content type"),
    422: ("请求内容未通过校验", "the request did not validate"),
}


def _flatten(messages) -> dict:
    """webargs keys messages by location ({"json": {...}, "headers": {...}}); clients want them by field."""
    if not isinstance(messages, dict):
        return {"_schema": messages}
    flat: dict = {}
    for location, per_field in messages.items():
        if isinstance(per_field, dict):
            flat.update(per_field)
        else:
            flat[location] = per_field
    return flat


def http_problem(error: HTTPException):
    zh, en = _PLAIN.get(error.code, (error.name, error.name))
    data = getattr(error, "data", None) or {}
    errors = _flatten(data["messages"]) if "messages" in data else None
    headers = dict(data.get("headers") or {})
    if error.code == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="xinyidai"'
    if error.code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    return problem(error.code, zh, detail_en=en, errors=errors, headers=headers)


def route_error_or_fallback(error: HTTPException):
    """404 / 405 before any view ran: a problem for API paths, the platform's error page elsewhere."""
    if request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/"):
        return http_problem(error)
    fallback = current_app.error_handler_spec[None][None].get(HTTPException)
    return fallback(error) if fallback else error
