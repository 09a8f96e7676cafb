"""Live publishing: one coalesced message per ingest request to the channel layer.

Split by job:
  groups.py     the channel-layer group names, and which series are a server's headline figures
  watched.py    the set of groups somebody watches, so unwatched groups cost (nearly) nothing
  frames.py     what one stored request becomes: the frames each watched group gets
  publisher.py  the bounded queue and background sender; ``publish_write``; the project's channel layer

Best-effort by design: Redis being down or slow never fails or slows ingest.
``publish_write`` only puts the request's batch on a bounded in-process queue
(O(1), never blocks); one background thread with its own event loop turns it
into frames and sends them with a short timeout. When the queue is full or
Redis is unreachable, frames are dropped and counted, and the thread backs off.

Every frame sent to a group is ``{"type": "live.frame", "id", "kind", "group", "text": <JSON>}``;
the JSON text is encoded once, consumers forward it as is. The same frame may
be sent to several groups under one id, so a socket subscribed to two of them
forwards it once.
"""
