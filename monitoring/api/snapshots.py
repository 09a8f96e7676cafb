"""GET /api/v1/servers/{id}/snapshot: a server's latest snapshot (seed 000 fields and the process table).

People only (a session or a person's token), as every read API. 404 when the
server is unknown or has sent no snapshot yet.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring.models import Snapshot
from monitoring.timestamps import iso


def snapshot_body(snapshot: Snapshot) -> dict:
    """The snapshot as the API and the server page show it: busiest processes first."""
    processes = sorted(snapshot.processes or [], key=lambda p: -(p.get("cpu_percent") or 0))
    return {
        "server_id": str(snapshot.server_id),
        "hostname": snapshot.server.hostname,
        "timestamp": iso(snapshot.ts),  # the read APIs' name (ts kept)
        "ts": snapshot.ts.isoformat(),
        "received_at": snapshot.received_at.isoformat(),
        "score": snapshot.score,
        "payload": snapshot.payload or {},
        "processes": processes,
    }


class SnapshotView(APIView):
    @extend_schema(
        summary="A server's latest snapshot",
        description=(
            "The last seed 000 body the server's agent sent (host, metrics, docker_events, logs, local_alerts, "
            "score and any extra field) as `payload`, and its last seed 002 process table as `processes` "
            "(busiest first). `ts` is the agent's time of the latest of the two, `received_at` the console's."
        ),
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, server_id) -> Response:
        snapshot = Snapshot.objects.select_related("server").filter(server_id=server_id).first()
        if snapshot is None:
            raise NotFound("no snapshot from this server (unknown server, or none sent yet)")
        return Response(snapshot_body(snapshot))
