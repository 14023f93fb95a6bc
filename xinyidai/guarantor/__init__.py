"""The guarantee institution's workspace (政府性融资担保, DESIGN §1 and §13): the guarantees banks ask of it,
its answers, and its guarantee products."""

from __future__ import annotations


def init_app(app) -> None:
    from flask_babel import lazy_gettext as _l

    from models.identity import Role
    from xinyidai.guarantor.routes import bp
    from xinyidai.web.navigation import add_nav_item

    app.register_blueprint(bp)
    for order, endpoint, label in ((10, "guarantor.applications", _l("担保申请")),
                                   (20, "guarantor.products", _l("担保产品"))):
        add_nav_item(app, endpoint, label, Role.GUARANTOR, order=order)
