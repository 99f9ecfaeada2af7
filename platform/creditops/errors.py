"""Errors a user can hit: one clear line each, turned into a message at the edge."""


class CreditopsError(Exception):
    """Base of the errors the command line, the API and the pages report as one line."""


class ConfigurationError(CreditopsError):
    """The settings point at something missing or unusable."""


class DatabaseUnavailable(CreditopsError):
    """The database cannot be reached or is not migrated."""


class ModelUnavailable(CreditopsError):
    """No trained model, or its artifact is unreadable."""
