"""A tiny shop: the fixture project of codewm's mutate-and-verify tests (tests/repo/test_mutate.py)."""
