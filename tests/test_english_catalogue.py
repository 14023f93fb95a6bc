"""The English catalogue is complete: every string the sources mark for translation has a reviewed English
entry, with the same placeholders. A new `_()` without an entry, or a fuzzy guess left by `pybabel update`,
fails here instead of showing Chinese to an English-speaking user."""

from __future__ import annotations

import io
import re
from gettext import GNUTranslations
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "xinyidai" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|\{\w*\}")


@pytest.fixture(scope="module")
def catalogue():
    with CATALOGUE.open("rb") as handle:
        return read_po(handle, locale="en")


def msgid(message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def test_every_entry_is_translated_and_none_is_fuzzy(catalogue):
    missing = [msgid(m) for m in catalogue if m.id and not all(m.string if isinstance(m.string, tuple) else [m.string])]
    fuzzy = [msgid(m) for m in catalogue if m.id and m.fuzzy]
    assert missing == [], f"{len(missing)} untranslated, e.g. {missing[:5]}"
    assert fuzzy == [], f"{len(fuzzy)} fuzzy, e.g. {fuzzy[:5]}"


def test_translations_keep_the_placeholders(catalogue):
    problems = [(msgid(m), errors) for m, errors in catalogue.check()]
    assert problems == []
    for message in catalogue:
        if not message.id:
            continue
        sources = message.id if isinstance(message.id, tuple) else (message.id,)
        targets = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(PLACEHOLDER.findall(sources[-1]))
        for target in targets:
            assert set(PLACEHOLDER.findall(target)) == wanted, (msgid(message), target)


def test_every_string_marked_in_the_sources_is_in_the_catalogue(catalogue):
    """What `make catalogue` would add: a string wrapped in _() / _l() / {{ _() }} after the last refresh."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    keywords = {**DEFAULT_KEYWORDS, "_l": None}
    extracted = {message if isinstance(message, str) else message[0]
                 for _file, _line, message, _comments, _context in
                 extract_from_dir(str(ROOT), method_map, options_map, keywords=keywords)}
    known = {msgid(m) for m in catalogue if m.id}
    absent = sorted(extracted - known)
    assert absent == [], f"{len(absent)} strings not in the catalogue (run `make catalogue`), e.g. {absent[:5]}"


def test_the_catalogue_compiles_and_answers_in_english(catalogue):
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)
    english = GNUTranslations(compiled)
    assert english.gettext("受理") == "Claim"
    assert english.gettext("白名单") == "Whitelist"
    assert english.gettext("第 %(page)s 页") % {"page": 2} == "Page 2"
