def helper_in_conftest(x):
    return x
