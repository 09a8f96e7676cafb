from config.errors import BadInput

__all__ = ["BadInput"]
