"""HTTP through Django, WebSockets through Channels, on one daphne process.

The continuous log stream (seed 004) is answered by a raw ASGI app ahead of
Django, which would otherwise buffer the whole request body before the view runs,
and daphne is made to deliver that request's body as it arrives
(ingest/daphne_streaming.py).
The seeds' metric ingest paths are served by a thread pool ahead of Django's
middleware (ingest/fastpath.py), the hot path. Ahead of all, ingest/gate.py
checks an ingest request's token, size and the bodies in flight before its body is read.
"""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from config.web_database import configure_web_connections  # noqa: E402

# this process serves the web: no persistent connections under ASGI, and a statement timeout
configure_web_connections()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from alerts.routing import websocket_urlpatterns as alert_streams  # noqa: E402
from ingest import daphne_streaming  # noqa: E402
from ingest.fastpath import IngestFastPath  # noqa: E402
from ingest.gate import IngestGate  # noqa: E402
from ingest.streaming import LogStreamRouter  # noqa: E402
from monitoring.routing import websocket_application  # noqa: E402
from monitoring.routing import websocket_urlpatterns as monitoring_streams  # noqa: E402
from monitoring.socket_limits import install_close_codes  # noqa: E402

# daphne hands the continuous log stream its body as it arrives (not at the end)
daphne_streaming.install()
# and closes sockets with the consumers' codes (1013 over a cap) and reasons
install_close_codes()

application = ProtocolTypeRouter(
    {
        "http": IngestGate(IngestFastPath(LogStreamRouter(django_asgi_app))),
        "websocket": websocket_application(URLRouter, monitoring_streams + alert_streams),
    }
)

# Everything loaded so far lives as long as the process: keep it out of the
# garbage collector's scans. Decoding a 1,000-sample ingest body allocates
# thousands of objects, and each collection it triggers would otherwise walk the
# whole of Django's heap (measured: 4.1 -> 1.1 ms of CPU per request to validate).
gc.freeze()
