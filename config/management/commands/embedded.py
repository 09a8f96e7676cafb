from django.conf import settings
from django.core.management.base import BaseCommand

from config import embedded


class Command(BaseCommand):
    help = "Show or stop the embedded PostgreSQL and Redis under DATA_DIR."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["status", "stop"])

    def handle(self, *args, action, **options):
        if action == "stop":
            stopped = embedded.stop_all(settings.DATA_DIR)
            self.stdout.write(f"stopped: {', '.join(stopped) or 'nothing was running'}")
            return
        pg = embedded.EmbeddedPostgres(settings.DATA_DIR).port()
        rd = embedded.EmbeddedRedis(settings.DATA_DIR).port()
        self.stdout.write(f"data dir: {settings.DATA_DIR}")
        self.stdout.write(
            f"postgres: {'port ' + str(pg) if pg else 'not running'} (embedded={settings.EMBEDDED_DATABASE})"
        )
        self.stdout.write(
            f"redis:    {'port ' + str(rd) if rd else 'not running'} (embedded={settings.EMBEDDED_REDIS})"
        )
