"""Validators shared by every app."""

from __future__ import annotations

from django.core.exceptions import ValidationError


def validate_phone(value: str) -> None:
    """An international number (E.164, "+234 803 123 4567"), checked against the numbering plan."""
    import phonenumbers

    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError("enter the phone number in international form, e.g. +234 803 123 4567") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError("this is not a valid phone number")


def normalize_phone(value: str) -> str:
    """The E.164 form of a valid international number ("+234 803 123 4567" -> "+2348031234567"), so
    that equal numbers compare equal; raises ValidationError like `validate_phone`."""
    import phonenumbers

    validate_phone(value)
    return phonenumbers.format_number(phonenumbers.parse(value, None), phonenumbers.PhoneNumberFormat.E164)
