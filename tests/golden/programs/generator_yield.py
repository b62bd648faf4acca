# call: f(3)
def countdown(n):
    while n > 0:
        yield n
        n -= 1

def f(n):
    out = []
    for value in countdown(n):
        out.append(value * 10)
    return out
