"""Who may change what: everyone signed in reads; changing what pages people takes staff or a model permission.

Admins grant the permission with groups in the admin (e.g. a group "on-call"
holding ``alerts.add_silence`` and ``servers.change_server``), so a person
need not be staff to silence an alert or put a server into maintenance.
A person's token issued read-only changes nothing (servers.auth refuses it first).
"""

from __future__ import annotations

from rest_framework import permissions


def may(user, perm: str, *more: str) -> bool:
    """Staff, or an active person holding every one of these model permissions ("app.codename")."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return bool(user.is_staff or user.has_perms((perm, *more)))


class StaffOrModelPermission(permissions.DjangoModelPermissions):
    """Safe methods for everyone signed in; writes need staff or add/change/delete on the view's model."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": [],
        "HEAD": [],
        "OPTIONS": [],
    }

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        if request.user.is_staff:
            return True
        return super().has_permission(request, view)


def staff_or(perm: str) -> type[permissions.BasePermission]:
    """A DRF permission class for one action: staff, or a person holding ``perm``."""

    class StaffOr(permissions.BasePermission):
        message = f"this needs staff or the permission {perm}"

        def has_permission(self, request, view) -> bool:
            return may(request.user, perm)

    StaffOr.__name__ = f"StaffOr_{perm.replace('.', '_')}"
    return StaffOr
