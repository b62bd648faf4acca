# call: f(['a', 'bb', 'a', 'ccc'])
def f(words):
    lengths = [len(w) for w in words]
    distinct = {n % 3 for n in lengths}
    index = {w: i for i, w in enumerate(words)}
    return lengths, distinct, index
