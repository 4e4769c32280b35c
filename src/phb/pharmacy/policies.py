"""Who may do what in the pharmacy: managing stock (products, batches, receiving, adjusting,
transferring, writing off, suppliers and purchase orders) needs `pharmacy.stock.manage`; dispensing
needs `pharmacy.dispense.create` (the can_dispense capability: pharmacists and pharmacy technicians);
reading stock needs either. Everything is of the actor's organization only: another organization's
location, product, batch or order is "not found"."""

from __future__ import annotations

from phb.kernel.context import Ctx

MANAGE_STOCK = "pharmacy.stock.manage"
DISPENSE = "pharmacy.dispense.create"
PHARMACY = (MANAGE_STOCK, DISPENSE)


def _staff(ctx: Ctx) -> bool:
    return ctx.organization_id is not None and (ctx.actor_id is not None or ctx.is_system)


def can_manage_stock(ctx: Ctx) -> bool:
    return _staff(ctx) and ctx.has_perm(MANAGE_STOCK)


def can_dispense(ctx: Ctx) -> bool:
    return _staff(ctx) and ctx.has_perm(DISPENSE)


def can_view_stock(ctx: Ctx) -> bool:
    return can_manage_stock(ctx) or can_dispense(ctx)
