"""Which participating banks enterprises see."""

from __future__ import annotations

import sqlalchemy as sa

from models.lending import Bank, Product, ProductStatus


def serves_enterprises():
    """A bank enterprises see (in authorization lists and choices): active, and past onboarding — it has at
    least one product on offer. A bank just added, still setting up, is shown to no SME."""
    return sa.and_(Bank.is_active.is_(True), sa.exists().where(Product.bank_id == Bank.id,
                                                               Product.status == ProductStatus.ACTIVE))
