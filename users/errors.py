from project.domain_errors import DomainError, InvalidInput


class InvalidCredentials(InvalidInput):
    code = "invalid_credentials"


class UsernameTaken(InvalidInput):
    code = "username_taken"


class LockedOut(DomainError):
    """Too many failed logins for the username (django-axes); the login waits it out."""

    status = 429
    code = "locked_out"
