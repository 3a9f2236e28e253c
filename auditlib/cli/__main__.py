"""`python -m auditlib.cli`."""

from auditlib.cli.main import main

main()
