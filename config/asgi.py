"""HTTP through Django, WebSockets through Channels, on one daphne process.

The continuous log stream (seed 004) is answered by a raw ASGI app ahead of
Django, which would otherwise buffer the whole request body before the view runs.
The seeds' metric ingest paths are served by a thread pool ahead of Django's
middleware (ingest/fastpath.py), the hot path.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from ingest.fastpath import IngestFastPath  # noqa: E402
from ingest.streaming import LogStreamRouter  # noqa: E402
from monitoring.routing import websocket_application  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": IngestFastPath(LogStreamRouter(django_asgi_app)),
        "websocket": websocket_application(URLRouter),
    }
)
