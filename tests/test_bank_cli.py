"""`xyd bank list --json` and `xyd bank token create`, through the CLI runner."""

from __future__ import annotations

import json

import sqlalchemy as sa

from models.identity import ApiToken
from xinyidai.domain.tokens import token_hash


def test_bank_list_json(cli, make_bank):
    bank = make_bank(code="ICBC-SH", name_zh="工商银行上海分行")
    result = cli.invoke(args=["bank", "list", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert {"id": bank.id, "name": "工商银行上海分行", "code": "ICBC-SH"} in listed
    assert all(set(row) == {"id", "name", "code"} for row in listed)


def test_token_create_prints_the_token_once_and_stores_its_hash(cli, make_bank, db_session, client):
    bank = make_bank(code="BOS-1")
    result = cli.invoke(args=["bank", "token", "create", "BOS-1", "--name", "core banking"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    stored = db_session.scalar(sa.select(ApiToken).where(ApiToken.bank_id == bank.id))
    assert stored.name == "core banking"
    assert stored.token_hash == token_hash(token)
    assert token not in stored.token_hash
    assert client.get("/api/v1/products", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_token_create_for_an_unknown_bank_fails_plainly(cli):
    result = cli.invoke(args=["bank", "token", "create", "NOPE"])
    assert result.exit_code != 0
    assert "no bank" in result.output
