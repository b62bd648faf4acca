"""A class whose instances the tests make from literals."""

UNIT = 2


class Box:
    def __init__(self, width, height=1):
        self.width = width
        self.height = height

    def area(self):
        return self.width * self.height

    @property
    def perimeter(self):
        return 2 * (self.width + self.height)

    def grow(self, by):
        self.width += by
        return self

    @classmethod
    def square(cls, side):
        return cls(side, side)

    @staticmethod
    def describe(width, height):
        return f"{width}x{height}"
