"""Demo data for the production app; called by `manage.py demo_data` in dependency order."""


def load() -> None:
    return None
