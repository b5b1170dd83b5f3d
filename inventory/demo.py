"""Demo data for the inventory app; called by `manage.py demo_data` in dependency order."""


def load() -> None:
    return None
