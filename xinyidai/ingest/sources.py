"""What each source delivers: its schema, the table it lands in, and the natural key rows upsert on."""

from __future__ import annotations

from dataclasses import dataclass

from marshmallow import Schema

from models.enterprise import Enterprise
from models.sources import (
    HousingFundMonth,
    PublicCreditEvent,
    SocialInsuranceMonth,
    Source,
    TaxMonth,
    TaxRating,
    UtilityMonth,
)
from xinyidai.ingest import schemas


@dataclass(frozen=True)
class SourceSpec:
    source: Source
    model: type
    schema: type[Schema]
    key: tuple[str, ...]
    optional_columns: frozenset[str] = frozenset()

    @property
    def table(self):
        return self.model.__table__

    @property
    def columns(self) -> tuple[str, ...]:
        """The delivery's column names, in the documented order."""
        return tuple(field.data_key or name for name, field in self.schema._declared_fields.items())

    @property
    def required_columns(self) -> frozenset[str]:
        return frozenset(self.columns) - self.optional_columns

    @property
    def attributes(self) -> tuple[str, ...]:
        """The model attributes a row sets (the delivery never touches other columns)."""
        return tuple(self.schema._declared_fields)

    @property
    def value_attributes(self) -> tuple[str, ...]:
        return tuple(a for a in self.attributes if a not in self.key)

    @property
    def references_registry(self) -> bool:
        return self.model is not Enterprise


SOURCES: dict[str, SourceSpec] = {
    spec.source.value: spec
    for spec in (
        SourceSpec(Source.REGISTRY, Enterprise, schemas.RegistrySchema, ("uscc",)),
        SourceSpec(Source.TAX, TaxMonth, schemas.TaxSchema, ("uscc", "month")),
        SourceSpec(Source.TAX_RATING, TaxRating, schemas.TaxRatingSchema, ("uscc", "year")),
        SourceSpec(Source.SOCIAL_INSURANCE, SocialInsuranceMonth, schemas.SocialInsuranceSchema, ("uscc", "month")),
        SourceSpec(Source.HOUSING_FUND, HousingFundMonth, schemas.HousingFundSchema, ("uscc", "month")),
        SourceSpec(Source.UTILITIES, UtilityMonth, schemas.UtilitiesSchema, ("uscc", "month", "kind")),
        SourceSpec(
            Source.PUBLIC_CREDIT,
            PublicCreditEvent,
            schemas.PublicCreditSchema,
            ("record_id",),
            optional_columns=frozenset({"repaired_on", "force_majeure"}),
        ),
    )
}
