# call: f(2)
def scale(x, factor=3, offset=0):
    return x * factor + offset

def f(x):
    return scale(x) + scale(x, offset=1) + scale(x, 2)
