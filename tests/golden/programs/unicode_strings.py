# call: f('héllo wörld ☃')
def f(s):
    words = s.split()
    flipped = [w[::-1] for w in words]
    return ' '.join(flipped).upper() + ' ✓'
