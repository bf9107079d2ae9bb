"""Writes to global accounts."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from identity.accounts.models import User


def get_or_create_account(*, email: str, full_name: str = "", password: str | None = None) -> tuple[User, bool]:
    """The person's one account, created on first use; an existing password is never replaced."""
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": _("Enter a valid e-mail address.")}) from None
    user = User.objects.filter(email__iexact=email).first()
    if user is not None:
        return user, False
    user = User.objects.create_user(email=email, password=password, full_name=full_name.strip())
    return user, True
