"""The outbound contract: the JSON Schemas in schemas/, and which one each event type follows."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

SCHEMA_VERSION = "1.0"
FOLDER = Path(__file__).parent / "schemas"

# event type → the schema file (without .json) that describes it
SCHEMA_OF = {
    "need.published": "need", "need.updated": "need", "need.withdrawn": "need",
    "match.created": "match", "match.removed": "match",
    "application.claimed": "claim",
    "application.approved": "decision", "application.declined": "decision",
    "application.withdrawn": "withdrawal",
    "application.state_changed": "state_change",
    "loan.disbursed": "disbursement",
    "loan.repayment_status": "repayment",
    "whitelist.published": "whitelist",
    "figures.monthly": "monthly_figures",
}


@cache
def _documents() -> dict[str, dict]:
    return {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(FOLDER.glob("*.json"))}


@cache
def _validators() -> dict[str, Draft202012Validator]:
    documents = _documents()
    registry = Registry().with_resources((doc["$id"], Resource.from_contents(doc)) for doc in documents.values())
    return {name: Draft202012Validator(doc, registry=registry, format_checker=FormatChecker())
            for name, doc in documents.items()}


def schema_names() -> list[str]:
    return list(_documents())


def schema(name: str) -> dict:
    return _documents()[name]


def problems(message: dict) -> list[str]:
    """Every way `message` breaks its event type's schema ('path: reason'); empty when it is valid."""
    if not isinstance(message, dict):
        return ["$: not a JSON object"]
    name = SCHEMA_OF.get(message.get("event_type"))
    validator = _validators()["envelope" if name is None else name]
    found = [f"{error.json_path}: {error.message}" for error in validator.iter_errors(message)]
    return sorted(found) or ([] if name else ["$.event_type: unknown event type"])
