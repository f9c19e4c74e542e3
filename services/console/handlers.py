"""The console consumes no events: it reads the other services' APIs on the signed-in user's behalf."""
from services.runtime.consumer import Handlers


def build() -> Handlers:
    return {}
