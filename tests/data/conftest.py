# The folders here are fixture projects whose own test suites codewm runs in its workspace
# (tests/repo); some of their tests fail on purpose, so codewm's suite never collects them.
collect_ignore_glob = ["*"]
