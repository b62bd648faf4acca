# call: f([3, -1, 4, 0, 5])
def f(xs):
    total = 0
    for x in xs:
        if x < 0:
            continue
        if x == 0:
            break
        total += x
    return total
