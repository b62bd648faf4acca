"""Plain functions."""

import os
import string

from .shapes import UNIT as BASE_UNIT

VOWELS = set("aeiou")


def _vowel(letter):
    return letter in VOWELS


def count_vowels(text):
    return sum(1 for letter in text.lower() if _vowel(letter))


def shout(text, times=1, *, mark="!"):
    return (text.upper() + mark) * times


def square(n):
    return n * n


def scaled(values, factor=BASE_UNIT):
    return [v * factor for v in values]


def pairs(n):
    for i in range(n):
        yield i, i * i


def apply(function, value):
    return function(value)


def digits(n):
    return len(str(abs(n))) if n < 10 ** 4000 else -1


def letters_only(text):
    return "".join(c for c in text if c in string.ascii_letters)


def where(name):
    return os.path.join(os.getcwd(), name)
