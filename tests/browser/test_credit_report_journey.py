"""In a real browser: an enterprise generates its credit report (专用信用报告), the PDF it downloads says who it is
for, and a logged-out visitor — a bank that received it — verifies it on /verify; a mistyped code is refused
with a plain message."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader

from models.identity import Role
from tests.browser.conftest import log_in


def test_the_enterprise_generates_a_report_and_a_logged_out_visitor_verifies_it(browser, live_instance, page, tmp_path):
    base_url, users = live_instance
    log_in(page, users[Role.ENTERPRISE])
    page.get_by_role("link", name="信用报告").first.click()
    page.select_option("select[name=years]", "5")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="生成并下载 PDF").click()
    download = download_info.value
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    assert path.suffix == ".pdf"
    text = re.sub(r"\s+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(path.read_bytes())).pages))
    assert "专用信用报告" in text
    assert "上海松江浏览器测试有限公司" in text
    number = re.search(r"XYD\d{8}[0-9A-Z]{6}", text).group(0)
    code = re.search(r"验证码[:：]([0-9A-Z]{4}-[0-9A-Z]{4})", text).group(1)
    page.goto("/enterprise/reports")
    assert number in page.content()

    visitor = browser.new_context(base_url=base_url).new_page()
    visitor.goto("/verify")
    visitor.fill("input[name=number]", number)
    visitor.fill("input[name=code]", code.lower().replace("-", ""))
    visitor.get_by_role("button", name="核验").click()
    verdict = visitor.get_by_role("status")
    assert "真实有效" in verdict.inner_text()
    assert "上海松江浏览器测试有限公司" in verdict.inner_text()

    visitor.fill("input[name=number]", number)
    visitor.fill("input[name=code]", code[:-1] + ("2" if code[-1] != "2" else "3"))
    visitor.get_by_role("button", name="核验").click()
    assert "核验未通过：报告编号或验证码不正确" in visitor.get_by_role("status").inner_text()
    assert "上海松江浏览器测试有限公司" not in visitor.get_by_role("status").inner_text()
    visitor.context.close()
