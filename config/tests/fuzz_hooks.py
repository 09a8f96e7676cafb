"""schemathesis hooks for `make fuzz` (SCHEMATHESIS_HOOKS): bodies it cannot encode by itself are sent as generated.

The continuous log stream reads NDJSON and Prometheus remote_write a snappy
protobuf: the fuzzer's strings and bytes go out as they are, so those paths
are fuzzed too (their refusals must still be 4xx in the one error shape).
"""

import schemathesis


@schemathesis.serializer("application/x-ndjson", "application/x-protobuf")
def as_generated(ctx, value) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    return str(value).encode()
