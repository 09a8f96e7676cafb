"""Adding hosts: the bundled agent and its installer (public), and the console's "Add a server" page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from servers import enrolment
from servers.choices import TokenKind
from servers.models import AgentToken

HOSTNAME_LIMIT = 255


@require_GET
def agent_file(request: HttpRequest) -> FileResponse:
    """The agent itself: no secret in it, so hosts fetch it without a token."""
    response = FileResponse(enrolment.AGENT_FILE.open("rb"), content_type="text/x-python; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="monitoring_agent.py"'
    return response


@require_GET
def install_script(request: HttpRequest) -> HttpResponse:
    """install.sh, downloading the agent from the URL this request reached the console at."""
    return HttpResponse(
        enrolment.install_script(enrolment.console_url(request)), content_type="text/x-shellscript; charset=utf-8"
    )


# What a POST issued waits in the server-side session for the GET it redirects to, which removes it:
# a secret is shown once, never carried in the messages cookie, and a reload issues nothing again.
ISSUED_KEY = "servers.added_to_show_once"


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def add_server(request: HttpRequest) -> HttpResponse:
    """Issue an agent token for a hostname and show its install line; or a fleet token for receivers."""
    may_issue = request.user.has_perm("servers.add_agenttoken")
    url = enrolment.console_url(request)
    context: dict = {"may_issue": may_issue, "url": url, "hostname": ""}
    if request.method == "GET":
        context.update(request.session.pop(ISSUED_KEY, {}))
    elif not may_issue:
        messages.error(request, "Issuing tokens needs the 'add agent token' permission; ask an admin.")
    elif request.POST.get("kind") == "fleet":
        _, raw = AgentToken.issue(TokenKind.FLEET, name=f"receivers, issued by {request.user}"[:128])
        return _show_once(request, {"configs": enrolment.receiver_configs(url, raw)})
    else:
        hostname = (request.POST.get("hostname") or "").strip()
        if not hostname or len(hostname) > HOSTNAME_LIMIT or any(c.isspace() for c in hostname):
            context["error"] = "A hostname is one word of at most 255 characters, e.g. web-01."
            context["hostname"] = hostname
        else:
            server, raw = enrolment.issue_host_token(hostname, name=f"install line by {request.user}")
            return _show_once(
                request,
                {
                    "server_id": str(server.pk),
                    "hostname": hostname,
                    "install_line": enrolment.install_line(url, raw, hostname),
                    "run_line": enrolment.run_line(url, raw, hostname),
                },
            )
    return render(request, "servers/add.html", context)


def _show_once(request: HttpRequest, issued: dict) -> HttpResponseRedirect:
    request.session[ISSUED_KEY] = issued
    return redirect("add-server")
