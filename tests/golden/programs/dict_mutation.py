# call: f({'a': 1})
def f(d):
    d['b'] = 2
    d['a'] += 10
    del d['b']
    d.update(c=3)
    return d
