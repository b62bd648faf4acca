# call: f([1, 2, 3])
def f(xs):
    total = sum(x * x for x in xs)
    return total
