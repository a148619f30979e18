"""Pure data: observed facts (msgspec), findings and the ModelSpec (pydantic).

Imports nothing else from skewaudit, so every layer can depend on it.
"""
