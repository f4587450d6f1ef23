"""The command line: Hydra glue for ``gdlab``, and the commands beside it."""
