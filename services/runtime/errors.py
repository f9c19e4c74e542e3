"""Error types shared by the services' protocol edges."""


class PoisonMessage(Exception):
    """An event that can never be handled, however often it is retried: straight to the dead-letter topic."""


class ContractError(PoisonMessage):
    """Event data that does not match its JSON Schema."""
