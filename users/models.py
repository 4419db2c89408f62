from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """Django's user with a phone number for SMS notifications (optional, like email)."""

    phone = models.CharField(max_length=32, blank=True)
