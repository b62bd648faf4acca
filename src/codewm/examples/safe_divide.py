# call: safe_divide([6, 0, 3], 0)
def safe_divide(values, divisor):
    results = []
    for value in values:
        try:
            results.append(value // divisor)
        except ZeroDivisionError as error:
            results.append(str(error))
    return results
