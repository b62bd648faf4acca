# call: f('  Hello, World  ')
def f(text):
    cleaned = text.strip()
    parts = cleaned.split(', ')
    joined = '-'.join(p.lower() for p in parts)
    return joined.replace('o', '0').title()
