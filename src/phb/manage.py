"""The `phb` command: Django's management commands plus PHB's own (run, seed-demo, ...)."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "phb.config.settings")
    from django.core.management import execute_from_command_line

    argv = list(sys.argv)
    # Our own commands are spelled with dashes on the command line (`phb seed-demo`);
    # Django names them with underscores.
    if len(argv) > 1 and not argv[1].startswith("-"):
        argv[1] = argv[1].replace("-", "_")
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
