# call: f([3, 1, 2])
def f(xs):
    ys = sorted(xs)
    xs.sort()
    xs.append(0)
    return xs, ys
