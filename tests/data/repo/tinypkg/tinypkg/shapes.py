def area(kind, *sides):
    if kind == "square":
        return sides[0] * sides[0]
    if kind == "rect":
        return sides[0] * sides[1]
    raise ValueError(f"unknown shape {kind!r}")


def perimeter(kind, *sides):
    if kind == "square":
        return 4 * sides[0]
    if kind == "rect":
        return 2 * (sides[0] + sides[1])
    raise ValueError(f"unknown shape {kind!r}")
