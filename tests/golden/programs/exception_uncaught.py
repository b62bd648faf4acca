# call: f({'a': 1}, 'b')
def lookup(table, key):
    return table[key]

def f(table, key):
    value = lookup(table, key)
    return value + 1
