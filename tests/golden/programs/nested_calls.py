# call: f(3)
def square(x):
    return x * x

def add_squares(a, b):
    return square(a) + square(b)

def f(n):
    return add_squares(n, n + 1)
