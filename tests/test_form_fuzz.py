"""Every web form of every portal × hostile values (issue 13 items 1–3, issue 14 "server errors"): no 500.

The forms are not listed by hand: every page each role can open (read from the URL map, as the access matrix
does) is fetched and every ``<form>`` on it is parsed; each of its fields then gets each hostile value while
the other fields keep what the page filled in. Every answer must be a page, a redirect or a 4xx; a hostile
number or date in a numeric or date field must be refused with the message beside that field. Each request
is rolled back, so no submission changes what the next one sees.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from tests import test_access_matrix
from tests.test_access_matrix import (
    ANY_USER,
    API,
    API_DOCS,
    PUBLIC,
    Caller,
    access_of,
    path_for,
    tenant_values,
    web_rules,
)
from xinyidai.web.forms import Form

world = test_access_matrix.world  # the access matrix's two tenants of everything (a fixture)

NUMERIC_HOSTILE = ["1e999999", "9" * 5000, "-1e-999999", "NaN", "٣"]
DATE_HOSTILE = ["9999-12-31", "2026-02-30"]
TEXT_HOSTILE = ["", "   ", "\x00\x07\x1b\x0c", "\u202egnp.exe\u202c", "a\u200bb", "x" * 20_000,
                "%(x)s %s {0} {{7*7}} <b>", "１２３", "-1"]
HOSTILE = NUMERIC_HOSTILE + DATE_HOSTILE + TEXT_HOSTILE
ACCEPTABLE = {200, 302, 303, 400, 404, 409, 413, 422, 429}
ROLES = ("anonymous", "enterprise", "bank", "office", "admin")


class Forms(HTMLParser):
    """The forms of a page: action, method, enctype and fields (name → (type, default value))."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._select: str | None = None
        self._textarea: str | None = None
        self._label: str | None = None
        self.labels: dict[str, str] = {}  # field id → its label's text

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "label" and a.get("for"):
            self._label = a["for"]
            self.labels.setdefault(self._label, "")
        if tag == "form":
            self._form = {"action": a.get("action") or "", "method": (a.get("method") or "get").lower(),
                          "multipart": "multipart" in (a.get("enctype") or ""), "fields": {}}
            self.forms.append(self._form)
        if self._form is None or not a.get("name"):
            return
        fields = self._form["fields"]
        name = a["name"]
        if tag == "input":
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "button", "reset", "image"):
                return
            if kind in ("checkbox", "radio"):
                if name not in fields or "checked" in a:
                    fields[name] = (kind, a.get("value", "y"))
                return
            fields[name] = (kind, a.get("value") or "")
        elif tag == "select":
            self._select = name
            fields.setdefault(name, ("select", ""))
        elif tag == "option" and self._select:
            kind, value = self._form["fields"][self._select]
            if not value or "selected" in a:
                self._form["fields"][self._select] = (kind, a.get("value", ""))
        elif tag == "textarea":
            self._textarea = name
            fields[name] = ("textarea", "")

    def handle_data(self, data):
        if self._label:
            self.labels[self._label] += data
        if self._textarea and self._form is not None:
            self._form["fields"][self._textarea] = ("textarea", data)

    def handle_endtag(self, tag):
        if tag == "label":
            self._label = None
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def reachable_pages(app, world, caller: str):
    for rule, method in web_rules(app):
        if method != "GET" or rule.endpoint == "static":
            continue
        access = access_of(rule.endpoint)
        if access is None or access.who in (API, API_DOCS):
            continue
        holder = "office" if caller == "city_office" else caller
        if access.who == PUBLIC or (access.who == ANY_USER and caller != "anonymous") or access.who == holder:
            yield path_for(rule, tenant_values(world, caller, rule, 0))


def discovered_forms(app, world, callers):
    """(caller, page, form) for every distinct form on every page a role can open."""
    seen, found = set(), []
    for name in ROLES:
        for page in reachable_pages(app, world, name):
            response = callers[name].call("GET", page)
            if response.status_code != 200 or "html" not in response.content_type:
                continue
            parser = Forms()
            parser.feed(response.get_data(as_text=True))
            for form in parser.forms:
                form["labels"] = parser.labels
                action = urlsplit(form["action"]).path or urlsplit(page).path
                key = (name, action, form["method"], tuple(sorted(form["fields"])))
                if key not in seen and form["fields"]:
                    seen.add(key)
                    found.append((name, action, form))
    return found


@pytest.fixture
def callers(app, world, db_session):
    connection = db_session.get_bind()
    return {name: Caller(app, connection, world["users"].get(name)) for name in ROLES}


def submit(caller, action: str, form: dict, data: dict):
    if form["method"] == "get":
        return caller.call("GET", action, query=data)
    data = {k: v for k, v in data.items() if k != "csrf_token"}
    if form["multipart"]:
        return caller.call("POST", action, data=data, content_type="multipart/form-data")
    return caller.call("POST", action, data=data)


@pytest.mark.slow
def test_every_form_of_every_portal_survives_hostile_values(app, world, callers):
    forms = discovered_forms(app, world, callers)
    endpoints = {app.url_map.bind("localhost").match(action, method=form["method"].upper())[0]
                 for _name, action, form in forms}
    assert len(endpoints) >= 30, sorted(endpoints)  # every portal's forms were found, not a handful
    failures, refused_without_message, sent, numeric_checked = [], [], 0, 0
    for name, action, form in forms:
        defaults = {field: value for field, (kind, value) in form["fields"].items() if kind != "file"}
        for field, (kind, _default) in form["fields"].items():
            if field == "csrf_token" or kind == "file":
                continue
            for value in HOSTILE:
                response = submit(callers[name], action, form, {**defaults, field: value})
                sent += 1
                if response.status_code not in ACCEPTABLE:
                    failures.append(f"{name} {form['method'].upper()} {action} {field}={value[:24]!r}: "
                                    f"{response.status_code}")
                    continue
                numeric = (kind == "number" and value in NUMERIC_HOSTILE) or (kind == "date" and value in DATE_HOSTILE)
                if numeric:
                    numeric_checked += 1
                    page = response.get_data(as_text=True)
                    # the message beside the field, or the field named in the page's error summary
                    label = form["labels"].get(field, "").strip()
                    named = f'id="{field}-error"' in page or (label and 'class="form-errors"' in page
                                                               and f"{label}：" in page.split('class="form-errors"', 1)[1])
                    if response.status_code < 400 or not named:
                        refused_without_message.append(f"{name} {action} {field}={value[:24]!r}: "
                                                       f"{response.status_code}")
    assert sent > 1000
    assert numeric_checked > 100  # the number and date inputs were found and each hostile value refused
    assert not failures, "\n".join(failures)
    assert not refused_without_message, "\n".join(refused_without_message)


def test_every_form_of_the_site_derives_from_the_shared_form():
    """The shared `Form` is what puts the input rules on every field; a form that bypasses it bypasses them."""
    from flask_wtf import FlaskForm

    import xinyidai.admin.forms
    import xinyidai.auth.forms
    import xinyidai.bank.forms
    import xinyidai.enterprise.forms
    import xinyidai.office.forms  # noqa: F401

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    ours = [c for c in subclasses(FlaskForm) if c.__module__.startswith("xinyidai.")]
    assert len(ours) > 20
    assert [c.__qualname__ for c in ours if not issubclass(c, Form)] == []
