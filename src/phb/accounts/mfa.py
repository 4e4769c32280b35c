"""Second factor: TOTP enrolment with a QR code, 10 single-use backup codes, email codes for patients.

django-otp keeps the devices; this module is the small set of operations PHB performs on them.
TOTP codes cannot be replayed (django-otp remembers the last time step used) and repeated failures
are throttled by the device.
"""

from __future__ import annotations

from typing import Any

import qrcode
import qrcode.image.svg
from django.db import transaction
from django_otp import devices_for_user, match_token
from django_otp.plugins.otp_email.models import EmailDevice
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from phb.accounts.models import User

BACKUP_CODE_COUNT = 10


def has_confirmed_device(user: User) -> bool:
    return any(True for _ in devices_for_user(user, confirmed=True))


def has_authenticator(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def totp_begin(user: User) -> TOTPDevice:
    """A new, unconfirmed authenticator for `user` (replacing an earlier unconfirmed one)."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def pending_totp(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()


def qr_svg(device: TOTPDevice) -> str:
    """The device's otpauth:// URL as an inline SVG QR code (nothing leaves the server)."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return image.to_string(encoding="unicode")


def secret_base32(device: TOTPDevice) -> str:
    """The secret for typing into an authenticator by hand."""
    import base64

    return base64.b32encode(device.bin_key).decode().rstrip("=")


def totp_confirm(user: User, device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm an authenticator with a code from it; returns the new backup codes, or None if wrong."""
    if device.user_id != user.id or device.confirmed or not device.verify_token(_clean(code)):
        return None
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=True).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        return backup_codes_regenerate(user)


def backup_codes_regenerate(user: User) -> list[str]:
    """Replace the user's backup codes with 10 new single-use ones (shown once)."""
    with transaction.atomic():
        StaticDevice.objects.filter(user=user).delete()
        device = StaticDevice.objects.create(user=user, name="Backup codes", confirmed=True)
        codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
        StaticToken.objects.bulk_create(StaticToken(device=device, token=c) for c in codes)
    return codes


def email_device(user: User, *, create: bool = False) -> EmailDevice | None:
    device = EmailDevice.objects.filter(user=user, confirmed=True).first()
    if device is None and create:
        device = EmailDevice.objects.create(user=user, name="Email", email=user.email, confirmed=True)
    return device


def email_code_send(user: User) -> bool:
    """Email a one-time code (fallback for patients). False when email codes are not allowed for them."""
    device = email_device(user, create=True)
    if device is None:
        return False
    device.generate_challenge()
    return True


def verify(user: User, code: str, *, allow_email: bool) -> Any:
    """The device that accepts `code` (authenticator, backup code, or email code), or None."""
    code = _clean(code)
    if not code:
        return None
    device = match_token(user, code)
    if device is not None and isinstance(device, EmailDevice) and not allow_email:
        return None
    return device


def reset(user: User) -> int:
    """Remove every second-factor device of `user` (an administrator's reset). Returns how many."""
    count = 0
    for model in (TOTPDevice, StaticDevice, EmailDevice):
        count += model.objects.filter(user=user).delete()[0]
    return count


def _clean(code: str) -> str:
    return "".join(str(code or "").split()).replace("-", "")[:16]
