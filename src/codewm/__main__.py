"""`python -m codewm`: the `codewm` command."""

from codewm.cli import main

if __name__ == "__main__":
    main()
