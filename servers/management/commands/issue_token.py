from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from servers.choices import TokenKind
from servers.models import AgentToken, Server


class Command(BaseCommand):
    help = (
        "Issue a token and print it as the last line: an agent token for HOSTNAME "
        "(the server is created if needed), a person's API token (--user), or a fleet token (--fleet)."
    )

    def add_arguments(self, parser):
        parser.add_argument("hostname", nargs="?", help="server the agent token writes for")
        parser.add_argument("--user", help="issue a read/manage API token for this user")
        parser.add_argument("--fleet", action="store_true", help="issue a fleet token (any server, registers)")
        parser.add_argument(
            "--read-only", action="store_true", help="with --user: the token may only read, never change anything"
        )
        parser.add_argument("--name", default="", help="a note to tell tokens apart")

    def handle(self, *args, hostname=None, user=None, fleet=False, name="", read_only=False, **options):
        chosen = [bool(hostname), bool(user), bool(fleet)]
        if sum(chosen) != 1:
            raise CommandError("give exactly one of HOSTNAME, --user USERNAME or --fleet")
        if read_only and not user:
            raise CommandError("--read-only is for a person's token (--user USERNAME); agent tokens only write")
        if hostname:
            server, created = Server.objects.get_or_create(hostname=hostname)
            token, raw = AgentToken.issue(TokenKind.AGENT, server=server, name=name)
            what = f"agent token for {hostname} ({'new server' if created else 'server ' + str(server.id)})"
        elif user:
            person = get_user_model().objects.filter(username=user).first()
            if person is None:
                raise CommandError(f"no user named {user!r}")
            token, raw = AgentToken.issue(TokenKind.USER, user=person, name=name, read_only=read_only)
            what = f"{'read-only ' if read_only else ''}API token for user {user}"
        else:
            token, raw = AgentToken.issue(TokenKind.FLEET, name=name)
            what = "fleet token"
        self.stdout.write(f"Issued {what}, prefix {token.prefix}. It is shown once; store it now:")
        self.stdout.write(raw)
