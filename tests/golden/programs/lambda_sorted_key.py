# call: f(['pear', 'fig', 'banana'])
def f(words):
    by_length = sorted(words, key=lambda w: len(w))
    return by_length
