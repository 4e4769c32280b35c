from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import totp

from phb.demo.seed import USERS, demo_totp_key


class Command(BaseCommand):
    help = "Print the current authenticator code of a demo staff user (demo data only)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("email")

    def handle(self, *args: Any, email: str, **options: Any) -> None:
        if email not in {u.email for u in USERS}:
            raise CommandError("only the demo users have printable codes")
        self.stdout.write(f"{totp(bytes.fromhex(demo_totp_key(email))):06d}")
