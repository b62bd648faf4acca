"""Prices of baskets, and grades; some functions are tested, one is not on purpose."""


class Basket(list):
    """Items as (name, price, quantity) tuples."""

    def total(self, discount=0):
        # Sum the lines, then apply the discount to big baskets.
        amount = 0
        for name, price, quantity in self:
            if quantity <= 0:
                continue
            amount += price * quantity
        if discount and amount > 100:
            amount = amount - discount
        return amount


def grade(score):
    if score >= 90:
        return "A"
    elif score >= 75:
        return "B"
    return "C"


def clamp(value, low, high):
    # Untested on purpose: no test can catch its mutants.
    if value < low:
        return low
    if value > high:
        return high
    return value
