"""One module per CLI command. Top-level imports: typer and stdlib only."""
