"""Integrations at the edge (GitHub Action, pre-commit hooks): they run the ``skewaudit`` command line exactly as
a user would and translate its outputs for the host tool (files through ``skewaudit.fsutil``). Nothing in the
pipeline imports them."""
