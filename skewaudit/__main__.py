"""Allow ``python -m skewaudit``."""

from skewaudit.cli import main

main()
