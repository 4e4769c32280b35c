"""The pharmacy's pages. Dispensing: the worklist of the location the pharmacist works at, a
prescription with the first-expiry-first-out proposal per item (quantities adjustable), dispensing,
and the printable labels. Stock: products with what each location holds, a product's batches and
reorder levels, batches, the ledger with filters, receiving, adjusting, transferring, writing off,
alerts, the valuation; suppliers, purchase orders (drafted, sent, received against), locations.

Views parse the form, call one selector or service, and render; a service's refusal is shown on the
form. Patient names appear only on the worklist, a prescription and its labels, all read through
audited selectors; URLs carry record ids only."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from phb.kernel.context import Ctx
from phb.kernel.errors import NotFound, ProblemError, ValidationFailed
from phb.organizations.models import Department, DepartmentKind
from phb.patients.public import staff_page
from phb.pharmacy import dispensing, forms, policies, purchasing, selectors, services
from phb.pharmacy.models import AlertStatus, PurchaseOrderStatus, StockLocation
from phb.terminology.public import drug_search

MANAGE = policies.MANAGE_STOCK
DISPENSE = policies.DISPENSE
SESSION_LOCATION = "pharmacy_location"


def _ctx(request: HttpRequest) -> Ctx:
    return request.ctx  # type: ignore[attr-defined,no-any-return]


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _refusal(exc: ProblemError) -> bool:
    """A refusal the page shows (bad input, a conflict); anything else propagates."""
    return exc.status in (400, 404, 409)


# --- choices --------------------------------------------------------------------------------------


def _locations(ctx: Ctx) -> list[StockLocation]:
    return list(selectors.location_list(ctx, active_only=True))


def _location_choices(ctx: Ctx) -> forms.Choices:
    return [(str(loc.id), loc.name) for loc in _locations(ctx)]


def _product_choices(ctx: Ctx) -> forms.Choices:
    return [(str(p.id), p.name) for p in selectors.product_list(ctx, active=True)]


def _supplier_choices(ctx: Ctx) -> forms.Choices:
    return [(str(s.id), s.name) for s in selectors.supplier_list(ctx, active_only=True)]


def _batch_choices(ctx: Ctx) -> forms.Choices:
    batches = selectors.batch_list(ctx, in_stock=True)[:500]
    return [
        (str(b.id), f"{b.product.name} — lot {b.lot_number}, exp. {b.expiry_on:%Y-%m-%d} ({b.on_hand.normalize():f})")
        for b in batches
    ]


def current_location(request: HttpRequest) -> StockLocation | None:
    """The location the pharmacist works at: chosen (and remembered for the session), else the first
    main pharmacy."""
    ctx = _ctx(request)
    locations = _locations(ctx)
    wanted = _uuid(request.GET.get("location") or request.session.get(SESSION_LOCATION))
    chosen = next((loc for loc in locations if loc.id == wanted), None)
    if chosen is None:
        chosen = next((loc for loc in locations if loc.kind == "main_pharmacy"), locations[0] if locations else None)
    if chosen is not None:
        request.session[SESSION_LOCATION] = str(chosen.id)
    return chosen


def _nav(request: HttpRequest, active: str, **context: Any) -> dict[str, Any]:
    ctx = _ctx(request)
    return {
        "active": active,
        "can_manage": policies.can_manage_stock(ctx),
        "can_dispense": policies.can_dispense(ctx),
        **context,
    }


# --- dispensing -----------------------------------------------------------------------------------


@staff_page(DISPENSE)
def worklist(request: HttpRequest) -> HttpResponse:
    """Prescriptions to dispense at the current location, oldest signed first."""
    ctx = _ctx(request)
    location = current_location(request)
    rows = dispensing.worklist(ctx, location_id=location.id) if location else []
    return render(
        request,
        "pharmacy/worklist.html",
        _nav(request, "worklist", location=location, locations=_locations(ctx), prescriptions=rows),
    )


@staff_page(DISPENSE)
def prescription(request: HttpRequest, prescription_id: uuid.UUID) -> HttpResponse:
    """One prescription: per item, the batches first expiry first and what to take; dispense."""
    ctx = _ctx(request)
    location = current_location(request)
    if location is None:
        return redirect("pharmacy_staff:worklist")
    error = ""
    status = 200
    if request.method == "POST":
        quantities = {
            key.removeprefix("qty-"): value.strip() for key, value in request.POST.items() if key.startswith("qty-")
        }
        try:
            done = dispensing.prescription_dispense(
                ctx=ctx, prescription_id=prescription_id, location_id=location.id, quantities=quantities
            )
        except ProblemError as exc:
            if not _refusal(exc) or exc.status == 404:
                raise
            error, status = _problem_text(exc), exc.status
        else:
            messages.success(request, f"Dispensed {done.prescription_number}: print the labels.")
            return redirect("pharmacy_staff:labels", dispensing_id=done.id)
    proposal = dispensing.dispensing_proposal(ctx, prescription_id=prescription_id, location_id=location.id)
    return render(
        request,
        "pharmacy/prescription.html",
        _nav(
            request,
            "worklist",
            proposal=proposal,
            location=location,
            error=error,
            posted=request.POST if request.method == "POST" else None,
            history=dispensing.dispensing_list(ctx, prescription_id=prescription_id),
        ),
        status=status,
    )


def _problem_text(exc: ProblemError) -> str:
    errors = exc.extra.get("errors") or []
    details = "; ".join(e.get("message", "") for e in errors if e.get("message"))
    return f"{exc.detail} {details}".strip() if details and details != exc.detail else exc.detail


@staff_page(DISPENSE, MANAGE)
def labels(request: HttpRequest, dispensing_id: uuid.UUID) -> HttpResponse:
    """The printable labels of a dispensing: one per dispensed item."""
    record = dispensing.dispensing_get(_ctx(request), dispensing_id=dispensing_id)
    return render(request, "pharmacy/labels.html", {"record": record, "labels": record.labels})


# --- stock ----------------------------------------------------------------------------------------


@staff_page(MANAGE, DISPENSE)
def stock(request: HttpRequest) -> HttpResponse:
    """Products with what each location holds (usable: in date), low ones flagged."""
    ctx = _ctx(request)
    q = (request.GET.get("q") or "").strip()[:100]
    page = Paginator(selectors.product_list(ctx, q=q), 50).get_page(request.GET.get("page"))
    rows = selectors.stock_overview(ctx, products=list(page))
    locations = _locations(ctx)
    table = [
        {
            "row": row,
            "cells": [row.holdings.get(loc.id) for loc in locations],
            "low": any(h.low for h in row.holdings.values()),
        }
        for row in rows
    ]
    return render(
        request, "pharmacy/stock.html", _nav(request, "stock", table=table, locations=locations, page=page, q=q)
    )


@staff_page(MANAGE)
def product_new(request: HttpRequest) -> HttpResponse:
    ctx = _ctx(request)
    form = forms.ProductForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        text = data.pop("drug").strip()
        found = drug_search(text, 1) if text else []
        code = found[0].code if found and found[0].name.lower() == text.lower() else text
        try:
            made = services.product_create(ctx=ctx, drug_code=code, **data)
        except ProblemError as exc:
            if not _refusal(exc):
                raise
            forms.add_problem(form, exc, {"drug_code": "drug"})
        else:
            messages.success(request, f"{made.name} added.")
            return redirect("pharmacy_staff:product", product_id=made.id)
    status = 400 if form.errors else 200
    return render(request, "pharmacy/product_new.html", _nav(request, "stock", form=form), status=status)


@staff_page(MANAGE, DISPENSE)
def product(request: HttpRequest, product_id: uuid.UUID) -> HttpResponse:
    """A product: what each location holds, its batches, its reorder levels (set here)."""
    ctx = _ctx(request)
    rows = selectors.stock_overview(ctx, products=selectors.product_list(ctx).filter(id=product_id))
    if not rows:
        raise NotFound("no such product here")
    form = forms.ReorderLevelForm(request.POST or None, choices={"location": _location_choices(ctx)})
    if request.method == "POST" and form.is_valid():
        try:
            services.reorder_level_set(
                ctx=ctx,
                product_id=product_id,
                location_id=_uuid(form.cleaned_data["location"]),
                level=form.cleaned_data["level"],
            )
        except ProblemError as exc:
            if not _refusal(exc):
                raise
            forms.add_problem(form, exc)
        else:
            messages.success(request, "Reorder level saved.")
            return redirect("pharmacy_staff:product", product_id=product_id)
    locations = {loc.id: loc for loc in selectors.location_list(ctx)}
    return render(
        request,
        "pharmacy/product.html",
        _nav(
            request,
            "stock",
            row=rows[0],
            holdings=[(locations.get(k), h) for k, h in rows[0].holdings.items()],
            batches=selectors.batch_list(ctx, product_id=product_id),
            form=form,
            today=services.today(ctx),
        ),
        status=400 if form.errors else 200,
    )


@staff_page(MANAGE, DISPENSE)
def batches(request: HttpRequest) -> HttpResponse:
    ctx = _ctx(request)
    days = request.GET.get("expiring_within")
    within = int(days) if days and days.isdigit() and int(days) <= 3650 else None
    found = selectors.batch_list(
        ctx,
        in_stock=request.GET.get("all") != "1",
        expiring_before=services.today(ctx) + dt.timedelta(days=within) if within is not None else None,
    )
    page = Paginator(found, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "pharmacy/batches.html",
        _nav(request, "batches", page=page, within=within, today=services.today(ctx)),
    )


@staff_page(MANAGE, DISPENSE)
def ledger(request: HttpRequest) -> HttpResponse:
    """The stock ledger, newest first, with filters."""
    ctx = _ctx(request)
    form = forms.LedgerFilterForm(
        request.GET or None, choices={"location": _location_choices(ctx), "product": _product_choices(ctx)}
    )
    filters: dict[str, Any] = {}
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        zone = timezone.get_current_timezone()
        filters = {
            "location_id": _uuid(data.get("location")),
            "product_id": _uuid(data.get("product")),
            "kind": data.get("kind") or None,
            "since": dt.datetime.combine(data["since"], dt.time.min, tzinfo=zone) if data.get("since") else None,
            "until": dt.datetime.combine(data["until"], dt.time.min, tzinfo=zone) if data.get("until") else None,
        }
    page = Paginator(selectors.movement_list(ctx, **filters), 100).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request, "pharmacy/ledger.html", _nav(request, "ledger", form=form, page=page, query=query.urlencode())
    )


def _stock_form(
    request: HttpRequest, form_class: type[forms._Chosen], choices: dict[str, forms.Choices], template: str, act: Any
) -> HttpResponse:
    """A stock movement page: the form, the service call (`act(form.cleaned_data)`), the refusal on it."""
    form = form_class(request.POST or None, choices=choices)
    if request.method == "POST" and form.is_valid():
        try:
            moved = act(form.cleaned_data)
        except ProblemError as exc:
            if not _refusal(exc):
                raise
            forms.add_problem(
                form,
                exc,
                {
                    "location_id": "location",
                    "batch_id": "batch",
                    "product_id": "product",
                    "to_location_id": "to_location",
                    "supplier_id": "supplier",
                },
            )
        else:
            messages.success(request, moved)
            return redirect(request.path)
    return render(request, template, _nav(request, "move", form=form), status=400 if form.errors else 200)


@staff_page(MANAGE)
def receive(request: HttpRequest) -> HttpResponse:
    ctx = _ctx(request)

    def act(d: dict[str, Any]) -> str:
        movement = services.stock_receive(
            ctx=ctx,
            location_id=_uuid(d["location"]),
            product_id=_uuid(d["product"]),
            supplier_id=_uuid(d.get("supplier")),
            lot_number=d["lot_number"],
            expiry_on=d["expiry_on"],
            quantity=d["quantity"],
            unit_cost=d["unit_cost"],
        )
        return f"Received {movement.quantity.normalize():f} of lot {d['lot_number']}."

    choices = {
        "location": _location_choices(ctx),
        "product": _product_choices(ctx),
        "supplier": _supplier_choices(ctx),
    }
    return _stock_form(request, forms.ReceiveForm, choices, "pharmacy/receive.html", act)


@staff_page(MANAGE)
def adjust(request: HttpRequest) -> HttpResponse:
    ctx = _ctx(request)

    def act(d: dict[str, Any]) -> str:
        services.stock_adjust(
            ctx=ctx,
            location_id=_uuid(d["location"]),
            batch_id=_uuid(d["batch"]),
            quantity=d["quantity"],
            reason=d["reason"],
        )
        return "Adjusted."

    choices = {"location": _location_choices(ctx), "batch": _batch_choices(ctx)}
    return _stock_form(request, forms.AdjustForm, choices, "pharmacy/adjust.html", act)


@staff_page(MANAGE)
def transfer(request: HttpRequest) -> HttpResponse:
    ctx = _ctx(request)

    def act(d: dict[str, Any]) -> str:
        services.stock_transfer(
            ctx=ctx,
            from_location_id=_uuid(d["from_location"]),
            to_location_id=_uuid(d["to_location"]),
            batch_id=_uuid(d["batch"]),
            quantity=d["quantity"],
            reason=d["reason"],
        )
        return "Transferred."

    locations = _location_choices(ctx)
    choices = {"from_location": locations, "to_location": locations, "batch": _batch_choices(ctx)}
    return _stock_form(request, forms.TransferForm, choices, "pharmacy/transfer.html", act)


@staff_page(MANAGE)
def destroy(request: HttpRequest) -> HttpResponse:
    """Write off units of a batch with a reason; or every expired batch held at a location."""
    ctx = _ctx(request)
    locations = _location_choices(ctx)
    if request.method == "POST" and request.POST.get("expire"):
        form = forms.ExpireForm(request.POST, choices={"location": locations})
        if form.is_valid():
            moved = services.stock_expire(ctx=ctx, location_id=_uuid(form.cleaned_data["location"]))
            messages.success(request, f"{len(moved)} expired batch(es) written off.")
        return redirect("pharmacy_staff:destroy")

    def act(d: dict[str, Any]) -> str:
        services.stock_destroy(
            ctx=ctx,
            location_id=_uuid(d["location"]),
            batch_id=_uuid(d["batch"]),
            quantity=d["quantity"],
            reason=d["reason"],
        )
        return "Written off."

    response = _stock_form(
        request, forms.DestroyForm, {"location": locations, "batch": _batch_choices(ctx)}, "pharmacy/destroy.html", act
    )
    return response


@staff_page(MANAGE, DISPENSE)
def alerts(request: HttpRequest) -> HttpResponse:
    ctx = _ctx(request)
    wanted = request.GET.get("status") if request.GET.get("status") in AlertStatus.values else AlertStatus.OPEN
    found = selectors.alert_list(ctx, status=wanted)[:200]
    return render(request, "pharmacy/alerts.html", _nav(request, "alerts", alerts=found, status=wanted))


@staff_page(MANAGE, DISPENSE)
def valuation(request: HttpRequest) -> HttpResponse:
    ctx = _ctx(request)
    location_id = _uuid(request.GET.get("location"))
    locations = _locations(ctx)
    if location_id not in {loc.id for loc in locations}:
        location_id = None
    result = selectors.stock_valuation(ctx, location_id=location_id)
    return render(
        request,
        "pharmacy/valuation.html",
        _nav(request, "valuation", valuation=result, locations=locations, location_id=location_id),
    )


# --- suppliers, purchase orders, locations -------------------------------------------------------------


@staff_page(MANAGE, DISPENSE)
def suppliers(request: HttpRequest) -> HttpResponse:
    ctx = _ctx(request)
    form = forms.SupplierForm(request.POST or None)
    if request.method == "POST":
        if not policies.can_manage_stock(ctx):
            return render(request, "403.html", status=403)
        if form.is_valid():
            try:
                made = services.supplier_create(ctx=ctx, **form.cleaned_data)
            except ProblemError as exc:
                if not _refusal(exc):
                    raise
                forms.add_problem(form, exc)
            else:
                messages.success(request, f"{made.name} added.")
                return redirect("pharmacy_staff:suppliers")
    return render(
        request,
        "pharmacy/suppliers.html",
        _nav(request, "suppliers", suppliers=selectors.supplier_list(ctx), form=form),
        status=400 if form.errors else 200,
    )


@staff_page(MANAGE, DISPENSE)
def purchase_orders(request: HttpRequest) -> HttpResponse:
    ctx = _ctx(request)
    choices = {"supplier": _supplier_choices(ctx), "location": _location_choices(ctx), "product": _product_choices(ctx)}
    form = forms.PurchaseOrderForm(request.POST or None, choices=choices)
    if request.method == "POST":
        if not policies.can_manage_stock(ctx):
            return render(request, "403.html", status=403)
        if form.is_valid():
            try:
                order = purchasing.purchase_order_create(
                    ctx=ctx,
                    supplier_id=_uuid(form.cleaned_data["supplier"]),
                    location_id=_uuid(form.cleaned_data["location"]),
                    expected_on=form.cleaned_data["expected_on"],
                    notes=form.cleaned_data["notes"],
                    lines=form.lines(),
                )
            except ProblemError as exc:
                if not _refusal(exc):
                    raise
                forms.add_problem(form, exc, {"supplier_id": "supplier", "location_id": "location"})
            else:
                messages.success(request, f"{order.number} drafted.")
                return redirect("pharmacy_staff:purchase-order", order_id=order.id)
    wanted = request.GET.get("status") if request.GET.get("status") in PurchaseOrderStatus.values else None
    page = Paginator(selectors.purchase_order_list(ctx, status=wanted), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "pharmacy/purchase_orders.html",
        _nav(request, "orders", page=page, form=form, statuses=PurchaseOrderStatus.choices, status=wanted),
        status=400 if form.errors else 200,
    )


@staff_page(MANAGE, DISPENSE)
def purchase_order(request: HttpRequest, order_id: uuid.UUID) -> HttpResponse:
    """An order with its lines; send, cancel, or receive a delivery (a lot per line)."""
    ctx = _ctx(request)
    selectors.require_view(ctx)
    order = purchasing.purchase_order_get(ctx, order_id)
    error, status = "", 200
    if request.method == "POST":
        try:
            _order_act(ctx, order, request.POST)
        except ProblemError as exc:
            if not _refusal(exc):
                raise
            error, status = _problem_text(exc), exc.status
        else:
            messages.success(request, "Done.")
            return redirect("pharmacy_staff:purchase-order", order_id=order_id)
    order = selectors.purchase_order_list(ctx).get(id=order_id)
    lines = purchasing.purchase_order_lines(ctx, order)
    return render(
        request,
        "pharmacy/purchase_order.html",
        _nav(
            request,
            "orders",
            order=order,
            lines=lines,
            totals=purchasing.purchase_order_totals(lines),
            error=error,
            receivable=order.status in purchasing.RECEIVABLE,
            cancellable=order.status in purchasing.CANCELLABLE,
        ),
        status=status,
    )


def _order_act(ctx: Ctx, order: Any, post: Any) -> None:
    action = post.get("action")
    if action == "submit":
        purchasing.purchase_order_submit(ctx=ctx, order_id=order.id)
    elif action == "cancel":
        purchasing.purchase_order_cancel(ctx=ctx, order_id=order.id)
    elif action == "receive":
        deliveries = []
        for line in purchasing.purchase_order_lines(ctx, order):
            quantity = (post.get(f"quantity-{line.id}") or "").strip()
            if not quantity or quantity == "0":
                continue
            try:
                expiry_on = dt.date.fromisoformat(post.get(f"expiry-{line.id}") or "")
            except ValueError:
                expiry_on = None
            deliveries.append(
                {
                    "line_id": line.id,
                    "lot_number": post.get(f"lot-{line.id}", ""),
                    "expiry_on": expiry_on,
                    "quantity": quantity,
                    "unit_cost": post.get(f"cost-{line.id}") or None,
                }
            )
        purchasing.purchase_order_receive(ctx=ctx, order_id=order.id, deliveries=deliveries)
    else:
        raise ValidationFailed("choose what to do", code="UNKNOWN_ACTION")


@staff_page(MANAGE, DISPENSE)
def locations(request: HttpRequest) -> HttpResponse:
    ctx = _ctx(request)
    departments = [
        (str(d.id), d.name)
        for d in Department.objects.for_tenant(ctx).filter(kind=DepartmentKind.PHARMACY, is_active=True)
    ]
    form = forms.LocationForm(request.POST or None, choices={"department": departments})
    if request.method == "POST":
        if not policies.can_manage_stock(ctx):
            return render(request, "403.html", status=403)
        if form.is_valid():
            try:
                made = services.location_create(
                    ctx=ctx,
                    name=form.cleaned_data["name"],
                    kind=form.cleaned_data["kind"],
                    department_id=_uuid(form.cleaned_data["department"]),
                )
            except ProblemError as exc:
                if not _refusal(exc):
                    raise
                forms.add_problem(form, exc, {"department_id": "department"})
            else:
                messages.success(request, f"{made.name} added.")
                return redirect("pharmacy_staff:locations")
    valuation_by_location = selectors.stock_valuation(ctx).by_location
    rows = [(loc, valuation_by_location.get(loc.id, Decimal(0))) for loc in selectors.location_list(ctx)]
    return render(
        request,
        "pharmacy/locations.html",
        _nav(request, "locations", rows=rows, form=form),
        status=400 if form.errors else 200,
    )
