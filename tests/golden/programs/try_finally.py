# call: f(2)
def f(x):
    log = []
    try:
        log.append('try')
        if x > 1:
            return log
        log.append('after')
    finally:
        log.append('finally')
    return log
