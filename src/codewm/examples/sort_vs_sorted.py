# call: f([3, 1, 2])
def f(xs):
    ys = sorted(xs)
    xs.sort()
    xs.append(len(ys))
    return xs == ys, xs
