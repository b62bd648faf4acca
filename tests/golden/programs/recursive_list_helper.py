# call: f([1, [2, [3]], 4])
def flatten(xs, out):
    for x in xs:
        if isinstance(x, list):
            flatten(x, out)
        else:
            out.append(x)
    return out

def f(xs):
    return flatten(xs, [])
