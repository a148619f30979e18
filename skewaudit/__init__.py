"""skewaudit: audit the configuration an ML model is served with against its ModelSpec."""

__version__ = "0.1.0"
