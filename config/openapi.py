"""drf-spectacular hooks for the whole API: one path per operation, and the refusals every operation may answer.

drf-spectacular documents an operation's success only. Every API view also
answers the one error shape (config/api.py) for a bad request, a missing or
refused token, an unknown object, a limit or a database that is down; each
operation lists them here, so a client (and the fuzzer of ``make fuzz``) finds
every answer in the schema.
"""

from __future__ import annotations

from config.errors import ERROR_REF, ERROR_SCHEMA

REFUSALS = {
    "400": "Bad input; `errors` names each field.",
    "401": "No credentials, or unknown ones.",
    "403": "Not allowed for this person or token.",
    "404": "No such object.",
    "405": "Method not allowed.",
    "406": "Cannot answer in the asked format.",
    "415": "A Content-Type the API does not read.",
    "429": "Over a rate limit; see Retry-After.",
    "503": "The database cannot take the request now; see Retry-After.",
}


def one_path_per_operation(endpoints: list, **kwargs) -> list:
    """Preprocessing hook: drop ``/x/`` where ``/x`` is the same view (the seeds' agents call both)."""
    bare = {(path, method, _view(callback)) for path, _, method, callback in endpoints}
    return [
        (path, regex, method, callback)
        for path, regex, method, callback in endpoints
        if not (path.endswith("/") and (path.rstrip("/"), method, _view(callback)) in bare)
    ]


def _view(callback):
    return getattr(callback, "cls", callback)  # two as_view() of one class are one operation


def add_refusals(result: dict, generator, request, public) -> dict:
    """Postprocessing hook: every operation lists the error answers it may give, in the one error shape."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    error = {"application/json": {"schema": ERROR_REF}}
    for item in result.get("paths", {}).values():
        for method, operation in item.items():
            if method not in ("get", "put", "patch", "post", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            for code, why in REFUSALS.items():
                responses.setdefault(code, {"description": why, "content": error})
    return result
