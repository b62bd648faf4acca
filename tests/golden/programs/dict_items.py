# call: f({'x': 2, 'y': 5})
def f(prices):
    total = 0
    for name, price in prices.items():
        total += price
    return total
