"""Chinese by default, English on request (?lang=en, remembered in the session and on the user).

Source strings are Chinese; `translations/en/LC_MESSAGES/messages.po` holds the English. The compiled
`.mo` files are build output (`make translations`, or `compile_catalogues()` from the test suite).
"""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path
from urllib.parse import urlencode

from flask import current_app, request, session
from flask_babel import get_locale, gettext
from flask_login import current_user
from markupsafe import escape

from xinyidai.extensions import babel, db

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
# What <html lang> says for each of our locale codes (BCP 47).
HTML_LANG = {"zh": "zh-CN", "en": "en"}
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}


def select_locale() -> str:
    languages = current_app.config["XYD_LANGUAGES"]
    asked = request.args.get("lang")
    if asked in languages:
        session["lang"] = asked
        return asked
    if session.get("lang") in languages:
        return session["lang"]
    if getattr(current_user, "is_authenticated", False) and current_user.locale in languages:
        return current_user.locale
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def locale_code() -> str:
    """"zh" or "en" for the current request."""
    return str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"]).split("_")[0]


def html_lang() -> str:
    return HTML_LANG.get(locale_code(), locale_code())


def localized(zh: str, en: str | None) -> str:
    """The English or Chinese variant of a name stored in both (bank, product, district)."""
    return en if locale_code() == "en" and en else zh


def N_(message: str) -> str:
    """Marks a service message for the catalogue (pybabel extracts N_) where it has to stay a plain string, because
    it also goes into API JSON and CSV result files; a page words it in its language with the `translated`
    filter (templates/macros/forms.html does so for every field error)."""
    return message


@functools.cache
def _english_catalogue():
    from babel.support import Translations

    return Translations.load(str(TRANSLATIONS), ["en"])


def in_english(message: str) -> str:
    """A Chinese source string in English from the catalogue, whatever the request's language (files written
    in both languages); itself where the catalogue does not know it."""
    return _english_catalogue().gettext(message)


def translated(message):
    """A plain message marked with N_, in the page's language; anything else (lazy strings, Markup, text the
    catalogue does not know, such as marshmallow's own English) is returned as it is."""
    if type(message) is not str:
        return message
    return gettext(message)


class Bilingual:
    """A name that reference data carries in both languages (a district, an industry section, a decline reason),
    worded when rendered, like a lazy gettext string: for labels built once at import time, such as form choices."""

    __slots__ = ("en", "zh")

    def __init__(self, zh: str, en: str | None):
        self.zh, self.en = zh, en

    def __str__(self) -> str:
        return localized(self.zh, self.en)

    def __html__(self) -> str:
        return str(escape(str(self)))

    def __repr__(self) -> str:
        return f"Bilingual({self.zh!r}, {self.en!r})"


def url_with_lang(code: str) -> str:
    """The current page (same path, same query) in another language: what the header switch links to."""
    args = [(key, value) for key, value in request.args.items(multi=True) if key != "lang"]
    return f"{request.path}?{urlencode([*args, ('lang', code)])}"


def remember_choice_on_user() -> None:
    """An explicit ?lang= by a logged-in user becomes their preference on every device."""
    asked = request.args.get("lang")
    if asked not in current_app.config["XYD_LANGUAGES"] or not getattr(current_user, "is_authenticated", False):
        return
    if current_user.locale != asked:
        current_user.user.locale = asked
        db.session.commit()


def stale_catalogues(directory: Path = TRANSLATIONS) -> list[Path]:
    """The .po files whose .mo is missing or older than they are."""
    stale = []
    for po in sorted(directory.glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            stale.append(po)
    return stale


def compile_catalogues(directory: Path = TRANSLATIONS) -> list[Path]:
    """Compile every stale catalogue (what `pybabel compile` does); returns the .mo files written.

    Each file is written beside its target and renamed over it, so a test run and a `make` running at
    the same time never see half a catalogue. Fuzzy entries are left out, as pybabel does.
    """
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in stale_catalogues(directory):
        with po.open("rb") as handle:
            catalog = read_po(handle, locale=po.parent.parent.name)
        fd, temporary = tempfile.mkstemp(dir=po.parent, suffix=".mo.tmp")
        with os.fdopen(fd, "wb") as handle:
            write_mo(handle, catalog)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; the app may run as another user
        os.replace(temporary, po.with_suffix(".mo"))
        written.append(po.with_suffix(".mo"))
    return written


def forget_loaded_translations(app) -> None:
    """Drop the catalogues Flask-Babel has cached, so freshly compiled ones are read."""
    with app.app_context():
        app.extensions["babel"].instance.domain_instance.cache.clear()


def init_app(app) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    babel.init_app(app, locale_selector=select_locale)
    app.before_request(remember_choice_on_user)
    app.jinja_env.globals.update(
        get_locale=get_locale, locale_code=locale_code, html_lang=html_lang, localized=localized,
        url_with_lang=url_with_lang, language_names=LANGUAGE_NAMES,
    )
    app.jinja_env.filters["translated"] = translated
    if stale := stale_catalogues():
        app.logger.warning("translations not compiled (run `make translations`): %s", ", ".join(map(str, stale)))
