"""The module the hostile suite pretends to test."""


def identity(value):
    return value
