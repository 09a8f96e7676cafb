from config.errors import BadInput

__all__ = ["BadInput", "Refused"]


class Refused(Exception):
    """A request an adapter refuses with a status of its own (413 for an oversized
    decompressed body, 415 for a media type it does not read). Never retried by clients."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail
