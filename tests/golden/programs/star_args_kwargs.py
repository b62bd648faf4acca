# call: f(1, 2, 3, sep='+', end='!')
def f(*args, **kwargs):
    sep = kwargs.get('sep', ',')
    text = sep.join(str(a) for a in args)
    return text + kwargs.get('end', '')
