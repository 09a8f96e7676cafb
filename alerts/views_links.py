"""The one-click action page: no login, the signed link is the credential (alerts/links.py).

GET shows what the link will do and submits itself (a script, so mail scanners
and link previews that only fetch the page use nothing); POST does it, once.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from alerts import links


@csrf_exempt
@require_http_methods(["GET", "POST"])
def alert_action(request: HttpRequest, token: str) -> HttpResponse:
    try:
        if request.method == "GET":
            alert, action = links.peek(token)
            context = {"alert": alert, "label": links.LABELS[action], "done": None}
        else:
            done = links.use(token)
            context = {"alert": done.alert, "label": links.LABELS[done.action], "done": done.text}
    except links.LinkRefused as refused:
        return render(request, "alerts/action.html", {"refused": refused.message}, status=refused.status)
    return render(request, "alerts/action.html", context)
