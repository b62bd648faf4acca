# call: f(['1', 'x', '3'])
def parse(text):
    return int(text)

def f(items):
    good = []
    for item in items:
        try:
            good.append(parse(item))
        except ValueError:
            good.append(-1)
    return good
