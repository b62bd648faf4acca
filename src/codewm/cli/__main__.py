"""`python -m codewm.cli`."""

from codewm.cli import app

app()
