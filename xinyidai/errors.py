"""Error pages in the user's language; no stack trace ever reaches a user.

The API answers its own errors as problem+json (`xinyidai.api.problems`) and falls back to these pages
only outside /api/v1.
"""

from __future__ import annotations

from flask import current_app, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException, InternalServerError

from xinyidai.extensions import db

MESSAGES = {
    400: _l("请求无效或页面已过期，请返回上一页刷新后重试。"),
    401: _l("请先登录。"),
    403: _l("您无权访问此页面。"),
    404: _l("页面不存在。"),
    405: _l("不支持此请求方式。"),
    409: _l("操作与当前状态冲突。"),
    413: _l("上传的文件过大。"),
    422: _l("提交的内容有误，请检查后重试。"),
    429: _l("请求过于频繁，请稍后再试。"),
}
GENERIC = _l("出错了，请稍后再试。")
# Headers of the original error worth keeping on our own page (405 must say what is allowed, 429 when).
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


def _message(code: int):
    if code == 413 and (limit := current_app.config.get("MAX_CONTENT_LENGTH")):
        return _("上传的文件过大：每次最多 %(size)s MB，请拆分后分批上传。", size=f"{limit / 1024 / 1024:g}")
    return MESSAGES.get(code, GENERIC)


def _respond(error: HTTPException):
    code = error.code or 500
    response = render_template("error.html", code=code, message=_message(code))
    headers = {name: value for name, value in error.get_headers() if name in _KEPT_HEADERS}
    return response, code, headers


def init_app(app) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        return _respond(error)

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        app.logger.exception("unhandled error")
        db.session.rollback()  # the page's own queries (header, navigation) need a usable session
        return _respond(InternalServerError())
