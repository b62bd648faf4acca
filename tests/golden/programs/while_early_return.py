# call: find([4, 8, 15, 16], 15)
def find(xs, target):
    i = 0
    while i < len(xs):
        if xs[i] == target:
            return i
        i += 1
    return -1
