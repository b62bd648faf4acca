# call: f(3)
def make_adder(n):
    def add(x):
        return x + n
    return add

def f(k):
    add = make_adder(k)
    return add(10)
