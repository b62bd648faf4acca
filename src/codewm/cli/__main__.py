"""`python -m codewm.cli`: the `codewm` command."""

from codewm.cli import main

main()
