"""/verify: anyone (no login) checks a credit report (专用信用报告) by its number and verification code, or by
opening the link in its QR code, optionally with the PDF itself to compare digests.

The answer shows only the report's header and digest — never what the report says. Wrong codes and unknown
numbers get one message; attempts are rate-limited per address (XYD_VERIFY_RATE_LIMIT) and every one is audited.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from wtforms import FileField, StringField

from xinyidai.domain import credit_report
from xinyidai.extensions import csrf, db, limiter
from xinyidai.web.forms import Form

bp = Blueprint("verify", __name__)
MAX_PDF_BYTES = 10 * 1024 * 1024


class VerifyForm(Form):
    class Meta:
        csrf = False  # a public, read-only check: the QR link is a plain GET

    number = StringField(_l("报告编号"), description=_l("报告首页和核验栏中的编号，如 XYD20261204ABC234。"))
    code = StringField(_l("验证码"), description=_l("核验栏中的 8 位验证码，大小写和连字符不影响。"))
    report = FileField(_l("报告文件（可选）"), description=_l("上传收到的 PDF，平台比对其摘要与出具时是否一致。"))


def verify_url(number: str, code: str) -> str:
    """The link a report's QR code holds: XYD_PUBLIC_URL when set (the address banks reach), else this host."""
    base = current_app.config.get("XYD_PUBLIC_URL")
    if base:
        return f"{base.rstrip('/')}{url_for('verify.verify', number=number, code=code)}"
    return url_for("verify.verify", number=number, code=code, _external=True)


def _verify_limit() -> str:
    return current_app.config.get("XYD_VERIFY_RATE_LIMIT", "10/minute;100/hour")


def _no_attempt() -> bool:
    return not (request.values.get("number") or request.values.get("code"))


@bp.route("/verify", methods=["GET", "POST"])
@csrf.exempt  # nothing changes but the audit log; a bank's system may post a file without a session
@limiter.limit(_verify_limit, exempt_when=_no_attempt)
def verify():
    """GET without a number shows the form; GET with number and code (the QR link) or POST checks."""
    form = VerifyForm(formdata=request.values)
    if _no_attempt():
        return render_template("verify.html", form=form, result=None)
    upload = request.files.get("report")
    file_bytes = upload.read(MAX_PDF_BYTES + 1) if upload and upload.filename else None
    if file_bytes is not None and len(file_bytes) > MAX_PDF_BYTES:
        file_bytes = b""  # larger than any report: it cannot match
    result = credit_report.verify_report(db.session, form.number.data or "", form.code.data or "",
                                         file_bytes=file_bytes, remote_addr=request.remote_addr)
    db.session.commit()
    status = 200 if result.genuine else 404 if result.verdict == credit_report.UNKNOWN else 410
    response = current_app.make_response((render_template("verify.html", form=form, result=result), status))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the code is in the QR link's query string
    return response
