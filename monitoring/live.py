"""Live publishing: one coalesced message per ingest request to the channel layer.

Best-effort by design: Redis being down never fails or slows ingest.
"""

from __future__ import annotations

from monitoring.storage import Batch, WriteResult


def publish_write(batch: Batch, result: WriteResult) -> None:
    """Publish what one request stored to the groups that watch it. Never raises."""
    # Filled in by the live console (issue 8): server, metric type, service-log and health groups.
    return None
