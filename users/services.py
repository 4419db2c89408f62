from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from rest_framework.authtoken.models import Token

from project.domain_errors import InvalidInput
from users.errors import UsernameTaken
from users.models import User
from wallets.services import wallet_for_user


def user_register(
    *, username: str, password: str, email: str = "", phone: str = ""
) -> tuple[User, str]:
    """Create a player with an empty wallet and an API token; returns (user, token key)."""
    candidate = User(username=username, email=email, phone=phone)
    try:
        validate_password(password, user=candidate)
    except DjangoValidationError as error:
        raise InvalidInput(
            "The password is too weak.", fields={"password": list(error.messages)}
        ) from error
    candidate.set_password(password)
    try:
        with transaction.atomic():
            candidate.save()
            wallet_for_user(user_id=candidate.pk, label=f"wallet of {username}")
            token = Token.objects.create(user=candidate)
    except IntegrityError as error:
        raise UsernameTaken(
            f"The username {username!r} is taken.",
            fields={"username": ["A user with that username already exists."]},
        ) from error
    return candidate, token.key


def token_for_user(*, user: User) -> str:
    token, _ = Token.objects.get_or_create(user=user)
    return token.key
