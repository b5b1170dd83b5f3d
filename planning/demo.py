"""Demo data for the planning app; called by `manage.py demo_data` in dependency order."""


def load() -> None:
    return None
