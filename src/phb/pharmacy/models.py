"""Pharmacy stock, all tenant-owned: where stock is kept (`StockLocation`), what is stocked (`Product`,
a local product mapped to a generic of the drug catalogue), its batches (lot, expiry, unit cost), the
stock ledger (`StockMovement`, append-only) and the balance it adds up to (`StockLevel`, one row per
location and batch); suppliers and purchase orders; stock alerts; and dispensings, which tie the
ledger's dispense movements to a prescription.

The ledger's invariant: for every (location, batch), the sum of the movements' signed quantities equals
`StockLevel.on_hand`, which is never negative. Both are written in the same transaction by
`services._move`; the database refuses a negative balance (CHECK) and, on PostgreSQL, any UPDATE or
DELETE of a movement (trigger). Quantities are in the product's unit of issue (tablets, ml, ...)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models

from phb.kernel.crypto import EncryptedTextField
from phb.kernel.models import TenantModel

QUANTITY = {"max_digits": 12, "decimal_places": 3}
MONEY = {"max_digits": 12, "decimal_places": 4}


class LocationKind(models.TextChoices):
    MAIN_PHARMACY = "main_pharmacy", "Main pharmacy"
    SATELLITE = "satellite", "Satellite pharmacy"
    WARD_STORE = "ward_store", "Ward store"


class StockLocation(TenantModel):
    """A place stock is kept and counted. A pharmacy location may name the organizations.Department
    (of kind pharmacy) that prescriptions nominate, so that its worklist holds theirs."""

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=LocationKind.choices, default=LocationKind.MAIN_PHARMACY)
    department = models.ForeignKey(
        "organizations.Department", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="stock_location_name_unique"),
            models.CheckConstraint(condition=models.Q(kind__in=LocationKind.values), name="stock_location_kind_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class Product(TenantModel):
    """A product the organization stocks, mapped to a generic drug of the catalogue by its code. Form
    and strength, when given, must match a prescription item's for the product to be dispensed
    against it; `controlled` is copied from the drug when the product is created."""

    drug_code = models.CharField(max_length=40, help_text="The generic drug's code in the drug catalogue.")
    drug_name = models.CharField(max_length=200, help_text="The generic's name, copied from the catalogue.")
    name = models.CharField(max_length=200)
    brand = models.CharField(max_length=120, blank=True, default="")
    form = models.CharField(max_length=60, blank=True, default="")
    strength = models.CharField(max_length=60, blank=True, default="")
    pack_size = models.PositiveIntegerField(default=1)
    unit_of_issue = models.CharField(max_length=30, default="unit")
    gtin = models.CharField("barcode / GTIN", max_length=14, blank=True, default="")
    manufacturer = models.CharField(max_length=120, blank=True, default="")
    controlled = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "gtin"], condition=~models.Q(gtin=""), name="product_gtin_unique"
            ),
            models.CheckConstraint(condition=models.Q(pack_size__gte=1), name="product_pack_size_positive"),
        ]
        indexes = [models.Index(fields=["organization", "drug_code"], name="product_drug")]

    def __str__(self) -> str:
        return self.name


class ReorderLevel(TenantModel):
    """Below this much usable stock (non-expired batches) of a product at a location, it is low."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(StockLocation, on_delete=models.PROTECT, related_name="+")
    level = models.DecimalField(**QUANTITY)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "product", "location"], name="reorder_level_unique"),
            models.CheckConstraint(condition=models.Q(level__gte=0), name="reorder_level_not_negative"),
        ]


class Supplier(TenantModel):
    name = models.CharField(max_length=160)
    contact_name = models.CharField(max_length=120, blank=True, default="")
    phone = models.CharField(max_length=30, blank=True, default="")
    email = models.EmailField(blank=True, default="")
    address = models.CharField(max_length=300, blank=True, default="")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="supplier_name_unique")]

    def __str__(self) -> str:
        return self.name


class Batch(TenantModel):
    """One lot of a product, with its expiry and what a unit of it cost (the valuation's price)."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="batches")
    lot_number = models.CharField(max_length=60)
    expiry_on = models.DateField()
    unit_cost = models.DecimalField(**MONEY)
    supplier = models.ForeignKey(Supplier, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["expiry_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "product", "lot_number"], name="batch_lot_unique"),
            models.CheckConstraint(condition=models.Q(unit_cost__gte=0), name="batch_unit_cost_not_negative"),
        ]
        indexes = [models.Index(fields=["organization", "expiry_on"], name="batch_expiry")]

    def __str__(self) -> str:
        return f"{self.lot_number} (exp. {self.expiry_on:%Y-%m-%d})"


class MovementKind(models.TextChoices):
    RECEIVE = "receive", "Received"
    DISPENSE = "dispense", "Dispensed"
    RETURN = "return", "Returned to stock"
    ADJUST = "adjust", "Adjusted"
    TRANSFER_OUT = "transfer_out", "Transferred out"
    TRANSFER_IN = "transfer_in", "Transferred in"
    EXPIRE = "expire", "Written off (expired)"
    DESTROY = "destroy", "Destroyed"


INBOUND = (MovementKind.RECEIVE, MovementKind.RETURN, MovementKind.TRANSFER_IN)
OUTBOUND = (MovementKind.DISPENSE, MovementKind.TRANSFER_OUT, MovementKind.EXPIRE, MovementKind.DESTROY)
REASON_REQUIRED = (MovementKind.ADJUST, MovementKind.DESTROY, MovementKind.EXPIRE)


class StockMovement(TenantModel):
    """One line of the stock ledger: a signed quantity of a batch into (+) or out of (-) a location.
    Append-only: a mistake is corrected by another movement (an adjustment), never by an edit.
    `reason` says why for adjustments and write-offs; it never names a patient (a dispensing is
    referenced by id)."""

    location = models.ForeignKey(StockLocation, on_delete=models.PROTECT, related_name="+")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=MovementKind.choices)
    quantity = models.DecimalField(**QUANTITY)
    reason = models.CharField(max_length=300, blank=True, default="")
    dispensing = models.ForeignKey(
        "pharmacy.Dispensing", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    purchase_order_line = models.ForeignKey(
        "pharmacy.PurchaseOrderLine", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    transfer_id = models.UUIDField(null=True, blank=True, help_text="The same on both movements of a transfer.")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(kind__in=MovementKind.values), name="movement_kind_valid"),
            models.CheckConstraint(
                condition=(
                    models.Q(kind__in=INBOUND, quantity__gt=0)
                    | models.Q(kind__in=OUTBOUND, quantity__lt=0)
                    | (models.Q(kind=MovementKind.ADJUST) & ~models.Q(quantity=0))
                ),
                name="movement_sign_follows_kind",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind__in=REASON_REQUIRED) | ~models.Q(reason=""),
                name="movement_reason_required",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "location", "at"], name="movement_location_time"),
            models.Index(fields=["organization", "product", "at"], name="movement_product_time"),
            models.Index(fields=["organization", "batch", "location"], name="movement_batch"),
            models.Index(fields=["organization", "dispensing"], name="movement_dispensing"),
        ]


class StockLevel(TenantModel):
    """The balance of one batch at one location: the sum of its movements, kept in the same
    transaction as each of them. Never negative (CHECK)."""

    location = models.ForeignKey(StockLocation, on_delete=models.PROTECT, related_name="+")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="levels")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    on_hand = models.DecimalField(**QUANTITY, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "location", "batch"], name="stock_level_unique"),
            models.CheckConstraint(condition=models.Q(on_hand__gte=0), name="stock_level_not_negative"),
        ]
        indexes = [models.Index(fields=["organization", "location", "product"], name="stock_level_product")]


# --- purchase orders ----------------------------------------------------------------------------------


class PurchaseOrderStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ORDERED = "ordered", "Ordered"
    PARTIALLY_RECEIVED = "partially_received", "Partially received"
    RECEIVED = "received", "Received"
    CANCELLED = "cancelled", "Cancelled"


class PurchaseOrder(TenantModel):
    """An order to a supplier, delivered to one location: draft → ordered → partially received →
    received; a draft or an order nothing of which has arrived may be cancelled."""

    number = models.CharField(max_length=20)
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(StockLocation, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=20, choices=PurchaseOrderStatus.choices, default=PurchaseOrderStatus.DRAFT)
    expected_on = models.DateField(null=True, blank=True)
    notes = models.CharField(max_length=500, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ordered_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "number"], name="purchase_order_number_unique"),
            models.CheckConstraint(
                condition=models.Q(status__in=PurchaseOrderStatus.values), name="purchase_order_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["organization", "status"], name="purchase_order_status")]

    def __str__(self) -> str:
        return self.number


class PurchaseOrderLine(TenantModel):
    order = models.ForeignKey(PurchaseOrder, on_delete=models.PROTECT, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    quantity_ordered = models.DecimalField(**QUANTITY)
    quantity_received = models.DecimalField(**QUANTITY, default=0)
    unit_cost = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity_ordered__gt=0), name="po_line_quantity_positive"),
            models.CheckConstraint(
                condition=models.Q(quantity_received__gte=0)
                & models.Q(quantity_received__lte=models.F("quantity_ordered")),
                name="po_line_not_over_received",
            ),
            models.CheckConstraint(condition=models.Q(unit_cost__gte=0), name="po_line_unit_cost_not_negative"),
        ]

    @property
    def outstanding(self) -> Decimal:
        return self.quantity_ordered - self.quantity_received


# --- alerts -------------------------------------------------------------------------------------------


class AlertKind(models.TextChoices):
    LOW_STOCK = "low_stock", "Low stock"
    NEAR_EXPIRY = "near_expiry", "Near expiry"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class StockAlert(TenantModel):
    """A product at a location is low, or holds stock near its expiry. One open alert per product,
    location and kind; resolved by the scheduled check when it no longer holds; its pharmacists are
    notified once (`notified_at` is the claim)."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(StockLocation, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    status = models.CharField(max_length=10, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    detail = models.JSONField(default=dict, blank=True)
    raised_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-raised_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "product", "location", "kind"],
                condition=models.Q(status="open"),
                name="stock_alert_one_open",
            ),
            models.CheckConstraint(condition=models.Q(kind__in=AlertKind.values), name="stock_alert_kind_valid"),
            models.CheckConstraint(condition=models.Q(status__in=AlertStatus.values), name="stock_alert_status_valid"),
        ]
        indexes = [models.Index(fields=["organization", "status", "kind"], name="stock_alert_status")]


# --- dispensing ---------------------------------------------------------------------------------------


class Dispensing(TenantModel):
    """What was handed out against a prescription, from which location, by whom and when. Its lines
    name the batches (and so the ledger's dispense movements); the label text is kept as printed."""

    prescription_id = models.UUIDField()
    prescription_number = models.CharField(max_length=40)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    patient_name = EncryptedTextField(blank=True, default="")
    location = models.ForeignKey(StockLocation, on_delete=models.PROTECT, related_name="+")
    dispensed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    dispensed_at = models.DateTimeField()
    prescription_status = models.CharField(max_length=30, help_text="The prescription's status after it.")
    notified_at = models.DateTimeField(null=True, blank=True, help_text="When the patient was told it is ready.")

    class Meta:
        ordering = ["-dispensed_at"]
        indexes = [
            models.Index(fields=["organization", "prescription_id"], name="dispensing_prescription"),
            models.Index(fields=["organization", "location", "dispensed_at"], name="dispensing_location_time"),
        ]


class DispensingLine(TenantModel):
    dispensing = models.ForeignKey(Dispensing, on_delete=models.PROTECT, related_name="lines")
    item_id = models.UUIDField(help_text="The prescription item dispensed.")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(**QUANTITY)
    # The label as printed: the item's drug, strength, unit and directions at the time.
    drug_name = models.CharField(max_length=200)
    strength = models.CharField(max_length=60, blank=True, default="")
    quantity_unit = models.CharField(max_length=30, blank=True, default="")
    directions = EncryptedTextField(blank=True, default="")

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.CheckConstraint(condition=models.Q(quantity__gt=0), name="dispensing_line_positive")]
        indexes = [models.Index(fields=["organization", "dispensing"], name="dispensing_line_dispensing")]
