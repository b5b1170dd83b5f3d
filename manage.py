#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    from config.embedded import ServiceStartError, fail

    try:
        execute_from_command_line(sys.argv)
    except ServiceStartError as exc:
        fail(str(exc))


if __name__ == "__main__":
    main()
