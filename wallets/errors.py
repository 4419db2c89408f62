from project.domain_errors import Conflict, InvalidInput


class InsufficientFunds(Conflict):
    code = "insufficient_funds"

    def __init__(self, detail: str, *, account_ids: list[int]):
        super().__init__(detail)
        self.account_ids = account_ids


class InvalidAmount(InvalidInput):
    code = "invalid_amount"
