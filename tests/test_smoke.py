from models.identity import Role


def test_landing_page_is_chinese_by_default(client):
    page = client.get("/").get_data(as_text=True)
    assert "信易贷" in page
    assert 'lang="zh-CN"' in page


def test_bank_user_lands_on_bank_home(client, make_user, login):
    user = make_user(Role.BANK)
    login(user)
    response = client.get("/home")
    assert response.headers["Location"].endswith("/bank/")
    assert client.get("/bank/").status_code == 200
    assert client.get("/office/").status_code == 403
