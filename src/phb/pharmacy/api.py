"""The pharmacy's stock API (`/api/v1/pharmacy/...`): locations, products (with what each location
holds) and their reorder levels, batches, the ledger, the stock movements (receive, adjust, transfer,
return, destroy, expire), suppliers, purchase orders and their receipt, alerts and the valuation.

Reads need a pharmacy role (`pharmacy.stock.manage` or `pharmacy.dispense.create`), writes
`pharmacy.stock.manage`; the selectors and services decide, views parse, call one of them and
serialize. Another organization's id is "not found"; refusals are problem details with stable codes
(INSUFFICIENT_STOCK, BATCH_EXPIRED, OVER_RECEIVED, REASON_REQUIRED, ...)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from phb.kernel.api import PagePagination, PhbApiView
from phb.kernel.errors import NotFound
from phb.pharmacy import dispensing, policies, purchasing, selectors, services
from phb.pharmacy.models import (
    AlertKind,
    AlertStatus,
    Batch,
    Dispensing,
    DispensingLine,
    LocationKind,
    MovementKind,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    ReorderLevel,
    StockAlert,
    StockLevel,
    StockLocation,
    StockMovement,
    Supplier,
)

MANAGE = policies.MANAGE_STOCK


def _valid(serializer_class: type[serializers.Serializer], data: Any, **kwargs: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _page(view: PhbApiView, request: Request, rows: Any, serializer: type[serializers.Serializer]) -> Response:
    paginator = PagePagination()
    page = paginator.paginate_queryset(rows, request, view=view)
    return paginator.get_paginated_response(serializer(page, many=True).data)


class StockApi(PhbApiView):
    """Reads for pharmacy staff (decided by the selectors), writes for stock managers."""

    required_permission: Any = {"GET": None, "POST": MANAGE, "PATCH": MANAGE, "PUT": MANAGE}


# --- locations ----------------------------------------------------------------------------------------


class LocationOutput(serializers.ModelSerializer):
    department_name = serializers.SerializerMethodField()

    class Meta:
        model = StockLocation
        fields = ["id", "name", "kind", "department_id", "department_name", "is_active"]

    def get_department_name(self, location: StockLocation) -> str:
        return location.department.name if location.department_id else ""


class LocationInput(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    kind = serializers.ChoiceField(choices=LocationKind.choices, default=LocationKind.MAIN_PHARMACY)
    department_id = serializers.UUIDField(required=False, allow_null=True, help_text="A department of kind pharmacy.")


class LocationPatch(serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False)
    kind = serializers.ChoiceField(choices=LocationKind.choices, required=False)
    department_id = serializers.UUIDField(required=False, allow_null=True)
    is_active = serializers.BooleanField(required=False)


class LocationsApi(StockApi):
    @extend_schema(responses=LocationOutput(many=True), summary="Stock locations")
    def get(self, request: Request) -> Response:
        return Response(LocationOutput(selectors.location_list(self.ctx), many=True).data)

    @extend_schema(request=LocationInput, responses={201: LocationOutput}, summary="Add a stock location")
    def post(self, request: Request) -> Response:
        location = services.location_create(ctx=self.ctx, **_valid(LocationInput, request.data))
        return Response(LocationOutput(location).data, status=status.HTTP_201_CREATED)


class LocationApi(StockApi):
    @extend_schema(responses=LocationOutput, summary="One stock location")
    def get(self, request: Request, location_id: str) -> Response:
        location = selectors.location_list(self.ctx).filter(id=self.parse_id(location_id)).first()
        if location is None:
            raise NotFound("no such stock location here", code="LOCATION_NOT_FOUND")
        return Response(LocationOutput(location).data)

    @extend_schema(request=LocationPatch, responses=LocationOutput, summary="Rename, re-link or close a location")
    def patch(self, request: Request, location_id: str) -> Response:
        data = _valid(LocationPatch, request.data)
        location = services.location_update(ctx=self.ctx, location_id=self.parse_id(location_id), **data)
        return Response(LocationOutput(location).data)


# --- products -----------------------------------------------------------------------------------------


class ProductOutput(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = [
            "id",
            "drug_code",
            "drug_name",
            "name",
            "brand",
            "form",
            "strength",
            "pack_size",
            "unit_of_issue",
            "gtin",
            "manufacturer",
            "controlled",
            "is_active",
        ]


class HoldingOutput(serializers.Serializer):
    location_id = serializers.UUIDField()
    on_hand = serializers.DecimalField(max_digits=12, decimal_places=3)
    usable = serializers.DecimalField(max_digits=12, decimal_places=3, help_text="Of batches still in date.")
    reorder_level = serializers.DecimalField(max_digits=12, decimal_places=3, allow_null=True)
    low = serializers.BooleanField()


class ProductStockOutput(serializers.Serializer):
    product = ProductOutput()
    on_hand = serializers.DecimalField(max_digits=14, decimal_places=3)
    usable = serializers.DecimalField(max_digits=14, decimal_places=3)
    holdings = serializers.SerializerMethodField()

    def get_holdings(self, row: selectors.ProductStock) -> list[dict[str, Any]]:
        return list(HoldingOutput(list(row.holdings.values()), many=True).data)


class ProductInput(serializers.Serializer):
    drug_code = serializers.CharField(max_length=40, help_text="The generic drug's code in the drug catalogue.")
    name = serializers.CharField(max_length=200)
    brand = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    form = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    strength = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    pack_size = serializers.IntegerField(min_value=1, max_value=100_000, default=1)
    unit_of_issue = serializers.CharField(max_length=30, default="unit")
    gtin = serializers.CharField(max_length=14, required=False, allow_blank=True, default="")
    manufacturer = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")


class ProductPatch(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    brand = serializers.CharField(max_length=120, required=False, allow_blank=True)
    form = serializers.CharField(max_length=60, required=False, allow_blank=True)
    strength = serializers.CharField(max_length=60, required=False, allow_blank=True)
    pack_size = serializers.IntegerField(min_value=1, max_value=100_000, required=False)
    unit_of_issue = serializers.CharField(max_length=30, required=False)
    gtin = serializers.CharField(max_length=14, required=False, allow_blank=True)
    manufacturer = serializers.CharField(max_length=120, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False)


class ProductFilters(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=100)
    active = serializers.BooleanField(required=False, allow_null=True, default=None)
    location = serializers.UUIDField(required=False)


class ProductsApi(StockApi):
    @extend_schema(
        parameters=[ProductFilters],
        responses=ProductStockOutput(many=True),
        summary="Products with what each location holds (on hand, usable, reorder level)",
    )
    def get(self, request: Request) -> Response:
        filters = _valid(ProductFilters, request.query_params)
        products = selectors.product_list(self.ctx, q=filters.get("q", ""), active=filters.get("active"))
        paginator = PagePagination()
        page = paginator.paginate_queryset(products, request, view=self)
        rows = selectors.stock_overview(self.ctx, products=page, location_id=filters.get("location"))
        return paginator.get_paginated_response(ProductStockOutput(rows, many=True).data)

    @extend_schema(request=ProductInput, responses={201: ProductOutput}, summary="Add a product of a catalogue drug")
    def post(self, request: Request) -> Response:
        product = services.product_create(ctx=self.ctx, **_valid(ProductInput, request.data))
        return Response(ProductOutput(product).data, status=status.HTTP_201_CREATED)


class ProductApi(StockApi):
    @extend_schema(responses=ProductStockOutput, summary="One product with what each location holds")
    def get(self, request: Request, product_id: str) -> Response:
        products = selectors.product_list(self.ctx).filter(id=self.parse_id(product_id))
        rows = selectors.stock_overview(self.ctx, products=products)
        if not rows:
            raise NotFound("no such product here", code="PRODUCT_NOT_FOUND")
        return Response(ProductStockOutput(rows[0]).data)

    @extend_schema(request=ProductPatch, responses=ProductOutput, summary="Change a product's description")
    def patch(self, request: Request, product_id: str) -> Response:
        data = _valid(ProductPatch, request.data)
        product = services.product_update(ctx=self.ctx, product_id=self.parse_id(product_id), **data)
        return Response(ProductOutput(product).data)


class ReorderLevelInput(serializers.Serializer):
    location_id = serializers.UUIDField()
    level = serializers.DecimalField(max_digits=12, decimal_places=3, min_value=0, help_text="0 removes it.")


class ReorderLevelOutput(serializers.ModelSerializer):
    class Meta:
        model = ReorderLevel
        fields = ["product_id", "location_id", "level"]


class ProductReorderLevelApi(StockApi):
    @extend_schema(
        request=ReorderLevelInput, responses=ReorderLevelInput, summary="Set a product's reorder level at a location"
    )
    def put(self, request: Request, product_id: str) -> Response:
        data = _valid(ReorderLevelInput, request.data)
        services.reorder_level_set(ctx=self.ctx, product_id=self.parse_id(product_id), **data)
        return Response(ReorderLevelInput(data).data)


# --- batches and the ledger ---------------------------------------------------------------------------


class BatchOutput(serializers.ModelSerializer):
    product_name = serializers.CharField(source="product.name")
    supplier_name = serializers.SerializerMethodField()
    on_hand = serializers.DecimalField(max_digits=14, decimal_places=3)

    class Meta:
        model = Batch
        fields = [
            "id",
            "product_id",
            "product_name",
            "lot_number",
            "expiry_on",
            "unit_cost",
            "supplier_id",
            "supplier_name",
            "on_hand",
        ]

    def get_supplier_name(self, batch: Batch) -> str:
        return batch.supplier.name if batch.supplier_id else ""


class LevelOutput(serializers.ModelSerializer):
    location_name = serializers.CharField(source="location.name")

    class Meta:
        model = StockLevel
        fields = ["location_id", "location_name", "on_hand"]


class BatchDetailOutput(serializers.Serializer):
    batch = BatchOutput()
    levels = LevelOutput(many=True)


class BatchFilters(serializers.Serializer):
    product = serializers.UUIDField(required=False)
    location = serializers.UUIDField(required=False, help_text="on_hand at this location only")
    expiring_before = serializers.DateField(required=False)
    in_stock = serializers.BooleanField(default=False)


class BatchesApi(StockApi):
    @extend_schema(
        parameters=[BatchFilters], responses=BatchOutput(many=True), summary="Batches, earliest expiry first"
    )
    def get(self, request: Request) -> Response:
        filters = _valid(BatchFilters, request.query_params)
        batches = selectors.batch_list(
            self.ctx,
            product_id=filters.get("product"),
            location_id=filters.get("location"),
            expiring_before=filters.get("expiring_before"),
            in_stock=filters["in_stock"],
        )
        return _page(self, request, batches, BatchOutput)


class BatchApi(StockApi):
    @extend_schema(responses=BatchDetailOutput, summary="One batch and where it is held")
    def get(self, request: Request, batch_id: str) -> Response:
        batch = selectors.batch_list(self.ctx).filter(id=self.parse_id(batch_id)).first()
        if batch is None:
            raise NotFound("no such batch here", code="BATCH_NOT_FOUND")
        levels = selectors.batch_levels(self.ctx, batch_id=batch.id)
        return Response(BatchDetailOutput({"batch": batch, "levels": levels}).data)


class MovementOutput(serializers.ModelSerializer):
    location_name = serializers.CharField(source="location.name")
    product_name = serializers.CharField(source="product.name")
    lot_number = serializers.CharField(source="batch.lot_number")
    expiry_on = serializers.DateField(source="batch.expiry_on")

    class Meta:
        model = StockMovement
        fields = [
            "id",
            "at",
            "kind",
            "quantity",
            "location_id",
            "location_name",
            "product_id",
            "product_name",
            "batch_id",
            "lot_number",
            "expiry_on",
            "reason",
            "dispensing_id",
            "purchase_order_line_id",
            "transfer_id",
            "actor_id",
        ]


class MovementFilters(serializers.Serializer):
    location = serializers.UUIDField(required=False)
    product = serializers.UUIDField(required=False)
    batch = serializers.UUIDField(required=False)
    kind = serializers.ChoiceField(choices=MovementKind.choices, required=False)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)


class MovementsApi(StockApi):
    @extend_schema(parameters=[MovementFilters], responses=MovementOutput(many=True), summary="The stock ledger")
    def get(self, request: Request) -> Response:
        f = _valid(MovementFilters, request.query_params)
        movements = selectors.movement_list(
            self.ctx,
            location_id=f.get("location"),
            product_id=f.get("product"),
            batch_id=f.get("batch"),
            kind=f.get("kind"),
            since=f.get("since"),
            until=f.get("until"),
        )
        return _page(self, request, movements, MovementOutput)


class MovementApi(StockApi):
    """A stock write answering with the movements it appended."""

    def answer(self, movements: list[StockMovement], code: int = status.HTTP_201_CREATED) -> Response:
        ids = [m.id for m in movements]
        rows = {
            m.id: m
            for m in StockMovement.objects.for_tenant(self.ctx)
            .select_related("location", "batch", "product")
            .filter(id__in=ids)
        }
        return Response(MovementOutput([rows[i] for i in ids], many=True).data, status=code)


class ReceiveInput(serializers.Serializer):
    location_id = serializers.UUIDField()
    product_id = serializers.UUIDField()
    lot_number = serializers.CharField(max_length=60)
    expiry_on = serializers.DateField()
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3)
    unit_cost = serializers.DecimalField(max_digits=12, decimal_places=4)
    supplier_id = serializers.UUIDField(required=False, allow_null=True)
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class AdjustInput(serializers.Serializer):
    location_id = serializers.UUIDField()
    batch_id = serializers.UUIDField()
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3, help_text="Signed: negative takes away.")
    reason = serializers.CharField(max_length=300, allow_blank=True, help_text="Required. Never a patient's name.")


class TransferInput(serializers.Serializer):
    from_location_id = serializers.UUIDField()
    to_location_id = serializers.UUIDField()
    batch_id = serializers.UUIDField()
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3)
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class ReturnInput(serializers.Serializer):
    location_id = serializers.UUIDField()
    batch_id = serializers.UUIDField()
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3)
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    dispensing_id = serializers.UUIDField(required=False, allow_null=True)


class DestroyInput(serializers.Serializer):
    location_id = serializers.UUIDField()
    batch_id = serializers.UUIDField()
    quantity = serializers.DecimalField(
        max_digits=12, decimal_places=3, required=False, allow_null=True, help_text="Default: all of it held there."
    )
    reason = serializers.CharField(max_length=300, allow_blank=True, help_text="Required.")


class ExpireInput(serializers.Serializer):
    location_id = serializers.UUIDField()
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class ReceiveApi(MovementApi):
    @extend_schema(request=ReceiveInput, responses={201: MovementOutput(many=True)}, summary="Receive a batch (ad hoc)")
    def post(self, request: Request) -> Response:
        return self.answer([services.stock_receive(ctx=self.ctx, **_valid(ReceiveInput, request.data))])


class AdjustApi(MovementApi):
    @extend_schema(request=AdjustInput, responses={201: MovementOutput(many=True)}, summary="Adjust with a reason")
    def post(self, request: Request) -> Response:
        return self.answer([services.stock_adjust(ctx=self.ctx, **_valid(AdjustInput, request.data))])


class TransferApi(MovementApi):
    @extend_schema(
        request=TransferInput, responses={201: MovementOutput(many=True)}, summary="Transfer between locations"
    )
    def post(self, request: Request) -> Response:
        return self.answer(list(services.stock_transfer(ctx=self.ctx, **_valid(TransferInput, request.data))))


class ReturnApi(MovementApi):
    @extend_schema(request=ReturnInput, responses={201: MovementOutput(many=True)}, summary="Return units to stock")
    def post(self, request: Request) -> Response:
        return self.answer([services.stock_return(ctx=self.ctx, **_valid(ReturnInput, request.data))])


class DestroyApi(MovementApi):
    @extend_schema(request=DestroyInput, responses={201: MovementOutput(many=True)}, summary="Destroy units of a batch")
    def post(self, request: Request) -> Response:
        return self.answer([services.stock_destroy(ctx=self.ctx, **_valid(DestroyInput, request.data))])


class ExpireApi(MovementApi):
    @extend_schema(
        request=ExpireInput,
        responses={201: MovementOutput(many=True)},
        summary="Write off every expired batch held at a location",
    )
    def post(self, request: Request) -> Response:
        return self.answer(services.stock_expire(ctx=self.ctx, **_valid(ExpireInput, request.data)))


# --- suppliers and purchase orders --------------------------------------------------------------------


class SupplierOutput(serializers.ModelSerializer):
    class Meta:
        model = Supplier
        fields = ["id", "name", "contact_name", "phone", "email", "address", "is_active"]


class SupplierInput(serializers.Serializer):
    name = serializers.CharField(max_length=160)
    contact_name = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    phone = serializers.CharField(max_length=30, required=False, allow_blank=True, default="")
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    address = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class SupplierPatch(serializers.Serializer):
    name = serializers.CharField(max_length=160, required=False)
    contact_name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=30, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    address = serializers.CharField(max_length=300, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False)


class SuppliersApi(StockApi):
    @extend_schema(responses=SupplierOutput(many=True), summary="Suppliers")
    def get(self, request: Request) -> Response:
        return Response(SupplierOutput(selectors.supplier_list(self.ctx), many=True).data)

    @extend_schema(request=SupplierInput, responses={201: SupplierOutput}, summary="Add a supplier")
    def post(self, request: Request) -> Response:
        supplier = services.supplier_create(ctx=self.ctx, **_valid(SupplierInput, request.data))
        return Response(SupplierOutput(supplier).data, status=status.HTTP_201_CREATED)


class SupplierApi(StockApi):
    @extend_schema(responses=SupplierOutput, summary="One supplier")
    def get(self, request: Request, supplier_id: str) -> Response:
        supplier = selectors.supplier_list(self.ctx).filter(id=self.parse_id(supplier_id)).first()
        if supplier is None:
            raise NotFound("no such supplier here", code="SUPPLIER_NOT_FOUND")
        return Response(SupplierOutput(supplier).data)

    @extend_schema(request=SupplierPatch, responses=SupplierOutput, summary="Change a supplier")
    def patch(self, request: Request, supplier_id: str) -> Response:
        data = _valid(SupplierPatch, request.data)
        supplier = services.supplier_update(ctx=self.ctx, supplier_id=self.parse_id(supplier_id), **data)
        return Response(SupplierOutput(supplier).data)


class OrderLineOutput(serializers.ModelSerializer):
    product_name = serializers.CharField(source="product.name")
    outstanding = serializers.DecimalField(max_digits=12, decimal_places=3)

    class Meta:
        model = PurchaseOrderLine
        fields = [
            "id",
            "product_id",
            "product_name",
            "quantity_ordered",
            "quantity_received",
            "outstanding",
            "unit_cost",
        ]


class OrderOutput(serializers.ModelSerializer):
    supplier_name = serializers.CharField(source="supplier.name")
    location_name = serializers.CharField(source="location.name")

    class Meta:
        model = PurchaseOrder
        fields = [
            "id",
            "number",
            "status",
            "supplier_id",
            "supplier_name",
            "location_id",
            "location_name",
            "expected_on",
            "notes",
            "created_at",
            "ordered_at",
            "received_at",
            "cancelled_at",
        ]


class OrderDetailOutput(serializers.Serializer):
    order = OrderOutput()
    lines = OrderLineOutput(many=True)
    ordered_value = serializers.DecimalField(max_digits=20, decimal_places=4)
    received_value = serializers.DecimalField(max_digits=20, decimal_places=4)


class OrderLineInput(serializers.Serializer):
    product_id = serializers.UUIDField()
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3)
    unit_cost = serializers.DecimalField(max_digits=12, decimal_places=4)


class OrderInput(serializers.Serializer):
    supplier_id = serializers.UUIDField()
    location_id = serializers.UUIDField()
    expected_on = serializers.DateField(required=False, allow_null=True)
    notes = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    lines = OrderLineInput(many=True, allow_empty=False, max_length=purchasing.MAX_LINES)


class DeliveryInput(serializers.Serializer):
    line_id = serializers.UUIDField()
    lot_number = serializers.CharField(max_length=60)
    expiry_on = serializers.DateField()
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3)
    unit_cost = serializers.DecimalField(
        max_digits=12, decimal_places=4, required=False, allow_null=True, help_text="Default: the line's."
    )


class ReceiptInput(serializers.Serializer):
    deliveries = DeliveryInput(many=True, allow_empty=False, max_length=purchasing.MAX_LINES)


class OrderFilters(serializers.Serializer):
    status = serializers.ChoiceField(choices=PurchaseOrderStatus.choices, required=False)


def _order_detail(view: PhbApiView, order: PurchaseOrder) -> dict[str, Any]:
    order = selectors.purchase_order_list(view.ctx).get(id=order.id)
    lines = purchasing.purchase_order_lines(view.ctx, order)
    return dict(OrderDetailOutput({"order": order, "lines": lines, **purchasing.purchase_order_totals(lines)}).data)


class PurchaseOrdersApi(StockApi):
    @extend_schema(parameters=[OrderFilters], responses=OrderOutput(many=True), summary="Purchase orders, newest first")
    def get(self, request: Request) -> Response:
        filters = _valid(OrderFilters, request.query_params)
        return _page(self, request, selectors.purchase_order_list(self.ctx, status=filters.get("status")), OrderOutput)

    @extend_schema(request=OrderInput, responses={201: OrderDetailOutput}, summary="Draft a purchase order")
    def post(self, request: Request) -> Response:
        order = purchasing.purchase_order_create(ctx=self.ctx, **_valid(OrderInput, request.data))
        return Response(_order_detail(self, order), status=status.HTTP_201_CREATED)


class PurchaseOrderApi(StockApi):
    @extend_schema(responses=OrderDetailOutput, summary="One purchase order with its lines")
    def get(self, request: Request, order_id: str) -> Response:
        selectors.require_view(self.ctx)
        order = purchasing.purchase_order_get(self.ctx, self.parse_id(order_id))
        return Response(_order_detail(self, order))


class PurchaseOrderSubmitApi(StockApi):
    @extend_schema(request=None, responses=OrderDetailOutput, summary="Send a draft order (it becomes ordered)")
    def post(self, request: Request, order_id: str) -> Response:
        order = purchasing.purchase_order_submit(ctx=self.ctx, order_id=self.parse_id(order_id))
        return Response(_order_detail(self, order))


class PurchaseOrderCancelApi(StockApi):
    @extend_schema(request=None, responses=OrderDetailOutput, summary="Cancel a draft, or an order nothing arrived of")
    def post(self, request: Request, order_id: str) -> Response:
        order = purchasing.purchase_order_cancel(ctx=self.ctx, order_id=self.parse_id(order_id))
        return Response(_order_detail(self, order))


class PurchaseOrderReceiveApi(StockApi):
    @extend_schema(
        request=ReceiptInput,
        responses={201: OrderDetailOutput},
        summary="Receive delivered lots against the order's lines (refuses over-receipt)",
    )
    def post(self, request: Request, order_id: str) -> Response:
        order_uuid = self.parse_id(order_id)
        data = _valid(ReceiptInput, request.data)
        purchasing.purchase_order_receive(ctx=self.ctx, order_id=order_uuid, deliveries=data["deliveries"])
        order = purchasing.purchase_order_get(self.ctx, order_uuid)
        return Response(_order_detail(self, order), status=status.HTTP_201_CREATED)


# --- alerts and valuation -----------------------------------------------------------------------------


class AlertOutput(serializers.ModelSerializer):
    product_name = serializers.CharField(source="product.name")
    location_name = serializers.CharField(source="location.name")

    class Meta:
        model = StockAlert
        fields = [
            "id",
            "kind",
            "status",
            "product_id",
            "product_name",
            "location_id",
            "location_name",
            "detail",
            "raised_at",
            "resolved_at",
            "notified_at",
        ]


class AlertFilters(serializers.Serializer):
    status = serializers.ChoiceField(choices=AlertStatus.choices, default=AlertStatus.OPEN)
    kind = serializers.ChoiceField(choices=AlertKind.choices, required=False)


class AlertsApi(StockApi):
    @extend_schema(parameters=[AlertFilters], responses=AlertOutput(many=True), summary="Stock alerts, newest first")
    def get(self, request: Request) -> Response:
        f = _valid(AlertFilters, request.query_params)
        return _page(self, request, selectors.alert_list(self.ctx, status=f["status"], kind=f.get("kind")), AlertOutput)


class ValuationRowOutput(serializers.Serializer):
    product_id = serializers.UUIDField()
    product_name = serializers.CharField()
    location_id = serializers.UUIDField()
    location_name = serializers.CharField()
    on_hand = serializers.DecimalField(max_digits=14, decimal_places=3)
    value = serializers.DecimalField(max_digits=20, decimal_places=2)
    expired_value = serializers.DecimalField(max_digits=20, decimal_places=2)


class ValuationOutput(serializers.Serializer):
    rows = ValuationRowOutput(many=True)
    total = serializers.DecimalField(max_digits=20, decimal_places=2)
    expired_total = serializers.DecimalField(max_digits=20, decimal_places=2)


class ValuationFilters(serializers.Serializer):
    location = serializers.UUIDField(required=False)


class ValuationApi(StockApi):
    @extend_schema(
        parameters=[ValuationFilters],
        responses=ValuationOutput,
        summary="Stock value at cost per product and location, and in total",
    )
    def get(self, request: Request) -> Response:
        f = _valid(ValuationFilters, request.query_params)
        return Response(ValuationOutput(selectors.stock_valuation(self.ctx, location_id=f.get("location"))).data)


# --- dispensing ---------------------------------------------------------------------------------------
# Prescriptions and dispensings name patients: every read here is audited by its selector.

DISPENSE = policies.DISPENSE


class DispensableItemOutput(serializers.Serializer):
    item_id = serializers.UUIDField()
    drug_code = serializers.CharField(source="drug.code")
    drug_system = serializers.CharField(source="drug.system")
    drug_name = serializers.CharField()
    form = serializers.CharField()
    strength = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3)
    quantity_unit = serializers.CharField()
    quantity_dispensed = serializers.DecimalField(max_digits=12, decimal_places=3)
    directions = serializers.CharField()
    instructions = serializers.CharField()


class DispensablePrescriptionOutput(serializers.Serializer):
    prescription_id = serializers.UUIDField()
    number = serializers.CharField()
    patient_id = serializers.UUIDField()
    patient_name = serializers.CharField()
    prescriber_name = serializers.CharField()
    status = serializers.CharField()
    signed_at = serializers.DateTimeField()
    pharmacy_department_id = serializers.UUIDField(allow_null=True)
    items = DispensableItemOutput(many=True)


class LocationFilter(serializers.Serializer):
    location = serializers.UUIDField(help_text="The stock location the pharmacist works at.")


class WorklistApi(StockApi):
    required_permission = DISPENSE

    @extend_schema(
        parameters=[LocationFilter],
        responses=DispensablePrescriptionOutput(many=True),
        summary="Prescriptions to dispense at a location, oldest signed first (audited)",
    )
    def get(self, request: Request) -> Response:
        location_id = _valid(LocationFilter, request.query_params)["location"]
        rows = dispensing.worklist(self.ctx, location_id=location_id)
        return Response(DispensablePrescriptionOutput(rows, many=True).data)


class BatchOfferOutput(serializers.Serializer):
    batch_id = serializers.UUIDField()
    product_id = serializers.UUIDField()
    product_name = serializers.CharField()
    lot_number = serializers.CharField()
    expiry_on = serializers.DateField()
    on_hand = serializers.DecimalField(max_digits=12, decimal_places=3)
    take = serializers.DecimalField(max_digits=12, decimal_places=3, help_text="Proposed from this batch.")


class ItemProposalOutput(serializers.Serializer):
    item = DispensableItemOutput()
    remaining = serializers.DecimalField(max_digits=12, decimal_places=3)
    available = serializers.DecimalField(max_digits=14, decimal_places=3)
    proposed = serializers.DecimalField(max_digits=12, decimal_places=3)
    batches = BatchOfferOutput(many=True)
    problem = serializers.ChoiceField(choices=["", "no_product", "out_of_stock", "done"])


class ProposalOutput(serializers.Serializer):
    prescription = DispensablePrescriptionOutput()
    location = LocationOutput()
    may_dispense_here = serializers.BooleanField()
    items = ItemProposalOutput(many=True)


class ProposalApi(StockApi):
    required_permission = DISPENSE

    @extend_schema(
        parameters=[LocationFilter],
        responses=ProposalOutput,
        summary="What dispensing a prescription here would hand out, batch by batch, first expiry first (audited)",
    )
    def get(self, request: Request, prescription_id: str) -> Response:
        location_id = _valid(LocationFilter, request.query_params)["location"]
        proposal = dispensing.dispensing_proposal(
            self.ctx, prescription_id=self.parse_id(prescription_id), location_id=location_id
        )
        return Response(ProposalOutput(proposal).data)


class DispenseInput(serializers.Serializer):
    location_id = serializers.UUIDField()
    quantities = serializers.DictField(
        child=serializers.DecimalField(max_digits=12, decimal_places=3, min_value=0),
        required=False,
        allow_null=True,
        default=None,
        help_text="Item id → quantity (0: not now). Absent: each item what remains, or what is in stock if less.",
    )


class DispensingLineOutput(serializers.ModelSerializer):
    product_name = serializers.CharField(source="product.name")
    lot_number = serializers.CharField(source="batch.lot_number")
    expiry_on = serializers.DateField(source="batch.expiry_on")

    class Meta:
        model = DispensingLine
        fields = ["item_id", "product_id", "product_name", "batch_id", "lot_number", "expiry_on", "quantity"]


class DispensingOutput(serializers.ModelSerializer):
    location_name = serializers.CharField(source="location.name")

    class Meta:
        model = Dispensing
        fields = [
            "id",
            "prescription_id",
            "prescription_number",
            "patient_id",
            "location_id",
            "location_name",
            "dispensed_by_id",
            "dispensed_at",
            "prescription_status",
        ]


class DispensingDetailOutput(serializers.Serializer):
    dispensing = DispensingOutput()
    lines = DispensingLineOutput(many=True)
    label_url = serializers.CharField(help_text="The printable labels.")


def _dispensing_detail(view: PhbApiView, dispensing_id: Any) -> dict[str, Any]:
    from django.urls import reverse

    record = dispensing.dispensing_get(view.ctx, dispensing_id=dispensing_id)
    return dict(
        DispensingDetailOutput(
            {
                "dispensing": record.dispensing,
                "lines": record.lines,
                "label_url": reverse("pharmacy_staff:labels", args=[record.dispensing.id]),
            }
        ).data
    )


class DispenseApi(StockApi):
    required_permission = DISPENSE

    @extend_schema(
        request=DispenseInput,
        responses={201: DispensingDetailOutput},
        summary="Dispense a signed prescription from a location (first expiry first out)",
    )
    def post(self, request: Request, prescription_id: str) -> Response:
        prescription_uuid = self.parse_id(prescription_id)
        data = _valid(DispenseInput, request.data)
        done = dispensing.prescription_dispense(
            ctx=self.ctx,
            prescription_id=prescription_uuid,
            location_id=data["location_id"],
            quantities=data["quantities"],
        )
        return Response(_dispensing_detail(self, done.id), status=status.HTTP_201_CREATED)


class DispensingFilters(serializers.Serializer):
    prescription = serializers.UUIDField(required=False)
    location = serializers.UUIDField(required=False)


class DispensingsApi(StockApi):
    @extend_schema(
        parameters=[DispensingFilters], responses=DispensingOutput(many=True), summary="Recent dispensings (audited)"
    )
    def get(self, request: Request) -> Response:
        f = _valid(DispensingFilters, request.query_params)
        rows = dispensing.dispensing_list(
            self.ctx, prescription_id=f.get("prescription"), location_id=f.get("location")
        )
        return Response(DispensingOutput(rows, many=True).data)


class DispensingApi(StockApi):
    @extend_schema(responses=DispensingDetailOutput, summary="One dispensing with its batches (audited)")
    def get(self, request: Request, dispensing_id: str) -> Response:
        return Response(_dispensing_detail(self, self.parse_id(dispensing_id)))
