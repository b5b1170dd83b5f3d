"""Demo data for the sales app; called by `manage.py demo_data` in dependency order."""


def load() -> None:
    return None
