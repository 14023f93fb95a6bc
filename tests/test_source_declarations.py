"""Every provider source is declared once (xinyidai.ingest.sources): the loader, the admin upload page, the
CLI, the authorization scope, the page labels and the score features all read that one list."""

from __future__ import annotations

from ml.features import FEATURES
from models.sources import Source
from xinyidai.domain.vocabulary import SOURCE_CONTENT
from xinyidai.ingest.sources import SOURCES
from xinyidai.web.labels import SOURCE


def test_every_source_is_declared_with_its_wording_in_both_languages():
    assert list(SOURCES) == [s.value for s in Source]
    for spec in SOURCES.values():
        assert all(spec.label), spec.source
        assert all(spec.content), spec.source
        assert set(spec.key) <= set(spec.attributes), spec.source
        assert spec.source in SOURCE
        assert spec.source in SOURCE_CONTENT


def test_every_score_feature_comes_from_a_declared_source():
    declared = [f.name for spec in SOURCES.values() for f in spec.features]
    assert sorted(declared) == sorted(f.name for f in FEATURES)


def test_the_cli_lists_every_declared_source(cli):
    result = cli.invoke(args=["ingest", "--help"])
    assert all(source in result.output for source in SOURCES)
