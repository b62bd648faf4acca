"""The neural debugger: step through a program while a world model, not the interpreter,
predicts each step; compare with the real run whenever you like.

    session.py     the engine: a timeline of predicted frames, a cursor, breakpoints, edits
    confidence.py  how sure the model was of each value (from token log-probabilities)
    truth.py       the real run against the predicted one, and the first divergence
    shell.py       the pdb-like prompt (`codewm debug`), scriptable with -e / --command / --commands
    text.py        the words it prints: percentages, confidence notes, the truth table
    spinner.py     the line on a terminal that says the model is at work
    report.py      the self-contained HTML report (`--report out.html`)
    demo.py        the README's main command: every bundled example, predicted against real
"""
