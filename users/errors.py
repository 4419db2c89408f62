from project.errors import InvalidInput


class InvalidCredentials(InvalidInput):
    code = "invalid_credentials"


class UsernameTaken(InvalidInput):
    code = "username_taken"
