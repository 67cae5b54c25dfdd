class ApplicationError(Exception):
    """A rule of the application was broken; the message is meant for the user who broke it.

    Services raise it; pages show the message, the API answers 400 with it, commands print it.
    """

    def __init__(self, message: str, *, extra: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class Forbidden(ApplicationError):
    """The user's role in the team does not allow this: the API answers 403 with the message."""
