from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from knox.models import AuthToken


class Command(BaseCommand):
    help = "Issue an API token for a user (printed once; only its digest is stored)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--days", type=int, default=90, help="validity in days; 0 = never expires")

    def handle(self, *args, username: str, days: int, **options):
        if days < 0:
            raise CommandError("--days must be 0 or more")
        try:
            user = get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"No user named {username!r}") from exc
        instance, token = AuthToken.objects.create(user=user, expiry=timedelta(days=days) if days else None)
        expiry = instance.expiry.isoformat() if instance.expiry else "never"
        self.stderr.write(f"Token for {username} (expires {expiry}); use header 'Authorization: Token <token>':")
        self.stdout.write(token)
