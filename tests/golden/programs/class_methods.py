# call: f(5)
class Counter:
    def __init__(self, start):
        self.count = start

    def bump(self, by):
        self.count += by
        return self.count

    def __repr__(self):
        return f'Counter({self.count})'

def f(start):
    c = Counter(start)
    c.bump(2)
    c.count = c.count * 2
    return c.bump(1)
