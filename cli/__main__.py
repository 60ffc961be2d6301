"""``python -m cli``: the ``tracechain`` command."""

from cli import app

app()
