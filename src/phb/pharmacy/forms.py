"""Forms of the pharmacy pages. They parse and check input only; the services decide (and their
problems are shown on the form: `add_problem`)."""

from __future__ import annotations

from typing import Any

from django import forms

from phb.kernel.errors import ProblemError
from phb.pharmacy.models import LocationKind, MovementKind

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
QUANTITY = {"max_digits": 12, "decimal_places": 3}
Choices = list[tuple[str, str]]


def add_problem(form: forms.Form, exc: ProblemError, rename: dict[str, str] | None = None) -> None:
    """A service's refusal as the form's errors: on the field it names when the form has it."""
    errors = exc.extra.get("errors") or []
    for error in errors:
        name = (rename or {}).get(error.get("field", ""), error.get("field", ""))
        form.add_error(name if name in form.fields else None, error.get("message") or exc.detail)
    if not errors:
        form.add_error(None, exc.detail)


class _Chosen(forms.Form):
    """A form whose select fields get their choices (this organization's rows) from the view."""

    def __init__(self, *args: Any, choices: dict[str, Choices] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, options in (choices or {}).items():
            if name in self.fields:
                self.fields[name].choices = [("", "—"), *options]  # type: ignore[attr-defined]


class LocationForm(_Chosen):
    name = forms.CharField(label="Name", max_length=120)
    kind = forms.ChoiceField(label="Kind", choices=LocationKind.choices)
    department = forms.ChoiceField(
        label="Pharmacy department",
        required=False,
        help_text="The department prescriptions nominate, when this is one of its pharmacies.",
    )


class ProductForm(forms.Form):
    drug = forms.CharField(
        label="Generic drug", max_length=100, help_text="Its name or code in the drug catalogue, e.g. amoxicillin."
    )
    name = forms.CharField(label="Product name", max_length=200)
    brand = forms.CharField(label="Brand", max_length=120, required=False)
    form = forms.CharField(label="Form", max_length=60, required=False, help_text="e.g. capsule; blank: any")
    strength = forms.CharField(label="Strength", max_length=60, required=False, help_text="e.g. 500 mg; blank: any")
    pack_size = forms.IntegerField(label="Pack size", min_value=1, max_value=100_000, initial=1)
    unit_of_issue = forms.CharField(label="Unit of issue", max_length=30, initial="tablet")
    gtin = forms.CharField(label="Barcode (GTIN)", max_length=14, required=False)
    manufacturer = forms.CharField(label="Manufacturer", max_length=120, required=False)


class ReorderLevelForm(_Chosen):
    location = forms.ChoiceField(label="Location")
    level = forms.DecimalField(label="Reorder level", min_value=0, **QUANTITY, help_text="0 removes it")


class ReceiveForm(_Chosen):
    location = forms.ChoiceField(label="Location")
    product = forms.ChoiceField(label="Product")
    supplier = forms.ChoiceField(label="Supplier", required=False)
    lot_number = forms.CharField(label="Lot number", max_length=60)
    expiry_on = forms.DateField(label="Expiry date", widget=DATE)
    quantity = forms.DecimalField(label="Quantity (units of issue)", **QUANTITY)
    unit_cost = forms.DecimalField(label="Unit cost", max_digits=12, decimal_places=4, min_value=0)


class AdjustForm(_Chosen):
    location = forms.ChoiceField(label="Location")
    batch = forms.ChoiceField(label="Batch")
    quantity = forms.DecimalField(label="Change (negative takes away)", **QUANTITY)
    reason = forms.CharField(
        label="Reason", max_length=300, required=False, help_text="Required; never a patient's name"
    )


class TransferForm(_Chosen):
    from_location = forms.ChoiceField(label="From")
    to_location = forms.ChoiceField(label="To")
    batch = forms.ChoiceField(label="Batch")
    quantity = forms.DecimalField(label="Quantity", **QUANTITY)
    reason = forms.CharField(label="Reason", max_length=300, required=False)


class DestroyForm(_Chosen):
    location = forms.ChoiceField(label="Location")
    batch = forms.ChoiceField(label="Batch")
    quantity = forms.DecimalField(label="Quantity", **QUANTITY, required=False, help_text="Blank: all of it there")
    reason = forms.CharField(label="Reason", max_length=300, required=False, help_text="Required")


class ExpireForm(_Chosen):
    location = forms.ChoiceField(label="Location")


class LedgerFilterForm(_Chosen):
    location = forms.ChoiceField(label="Location", required=False)
    product = forms.ChoiceField(label="Product", required=False)
    kind = forms.ChoiceField(label="Kind", required=False, choices=[("", "—"), *MovementKind.choices])
    since = forms.DateField(label="From", required=False, widget=DATE)
    until = forms.DateField(label="Until (excluded)", required=False, widget=DATE)


class SupplierForm(forms.Form):
    name = forms.CharField(label="Name", max_length=160)
    contact_name = forms.CharField(label="Contact", max_length=120, required=False)
    phone = forms.CharField(label="Phone", max_length=30, required=False)
    email = forms.EmailField(label="Email", required=False)
    address = forms.CharField(label="Address", max_length=300, required=False)


ORDER_LINES = 6


class PurchaseOrderForm(_Chosen):
    supplier = forms.ChoiceField(label="Supplier")
    location = forms.ChoiceField(label="Deliver to")
    expected_on = forms.DateField(label="Expected on", required=False, widget=DATE)
    notes = forms.CharField(label="Notes", max_length=500, required=False)

    def __init__(self, *args: Any, choices: dict[str, Choices] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, choices=choices, **kwargs)
        for i in range(ORDER_LINES):
            self.fields[f"product_{i}"] = forms.ChoiceField(
                label=f"Line {i + 1}: product", required=False, choices=[("", "—"), *(choices or {}).get("product", [])]
            )
            self.fields[f"quantity_{i}"] = forms.DecimalField(label="quantity", required=False, min_value=0, **QUANTITY)
            self.fields[f"unit_cost_{i}"] = forms.DecimalField(
                label="unit cost", required=False, min_value=0, max_digits=12, decimal_places=4
            )

    def lines(self) -> list[dict[str, Any]]:
        data = self.cleaned_data
        return [
            {
                "product_id": data[f"product_{i}"],
                "quantity": data[f"quantity_{i}"],
                "unit_cost": data[f"unit_cost_{i}"] or 0,
            }
            for i in range(ORDER_LINES)
            if data.get(f"product_{i}")
        ]
