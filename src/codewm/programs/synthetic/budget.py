"""The generator's budget: upper bounds on sizes and trace steps, kept while a function is made.

A function being generated keeps `sizes`, a dict from variable name to (n, e): an upper bound
on the variable's length (characters of a string, elements of a collection) and on its longest
element or key (a tuple's e is its length). Under the key STEPS it keeps the trace steps spent
so far. A statement that would let any bound pass its cap in `vocabulary.CAP`, or the steps
pass the function's budget, raises `Reject`, and the function generates something else.

The same bounds have to hold however often loops run, so a function also keeps an effect
list that mirrors its body, and a loop's effects are re-run as often as the loop may repeat:

- ("steps", steps): adds trace steps, an int or a function of the sizes;
- ("size", name, size_fn, cap, is_tuple): sets an upper bound on a variable's size (joined
  with the old bound: bounds only grow);
- ("check", check): runs a check on the sizes, which may reject;
- ("loop", bound_fn, body): repeats the effects `body` at most bound_fn(sizes) times.

A size function maps the sizes to an (n, e) bound; the makers below build the common ones.
"""

from __future__ import annotations

from codewm.programs.synthetic.vocabulary import ELEMENT_CAP

STEPS = "$steps"  # the key of the steps spent in a sizes dict (no variable name starts with "$")


class Reject(Exception):
    """This statement (or program) breaks a cap or the step budget: generate something else."""


def constant_size(n: int, e: int = 0):
    """The size function of a value whose size is known: (n, e)."""
    size = (n, e)
    return lambda sizes: size


def size_of(name: str):
    """The size function of a variable's current value."""
    return lambda sizes: sizes[name]


def constant_bound(k: int):
    """The bound function of a loop that runs k times."""
    return lambda sizes: k


def length_of(name: str):
    """The bound function of a loop over a variable: its length."""
    return lambda sizes: sizes[name][0]


def bound_size(effect: tuple, sizes: dict) -> None:
    """Apply a ("size", name, size_fn, cap, is_tuple) effect to the sizes; reject past the cap."""
    n, e = effect[2](sizes)
    if n > effect[3] or (e > ELEMENT_CAP and not effect[4]):
        raise Reject
    old = sizes.get(effect[1])
    if old is not None:
        if old[0] > n:
            n = old[0]
        e = min(e, old[1]) if effect[4] else max(e, old[1])
    sizes[effect[1]] = (n, e)


def run_effects(effects: list, sizes: dict, budget: int, max_loop: int) -> None:
    """Apply effects to the sizes in place; reject when steps pass `budget` or a loop `max_loop`."""
    for effect in effects:
        tag = effect[0]
        if tag == "steps":  # the commonest first
            steps = effect[1]
            sizes[STEPS] += steps if type(steps) is int else steps(sizes)
            if sizes[STEPS] > budget:
                raise Reject
        elif tag == "size":
            bound_size(effect, sizes)
        elif tag == "check":
            effect[1](sizes)
        else:
            bound = effect[1](sizes)
            if bound > max_loop:
                raise Reject
            for i in range(bound):
                before = dict(sizes)
                steps_before = sizes[STEPS]
                run_effects(effect[2], sizes, budget, max_loop)
                before[STEPS] = sizes[STEPS]
                if before == sizes:  # a fixpoint: the remaining iterations only add steps
                    sizes[STEPS] += (bound - i - 1) * (sizes[STEPS] - steps_before)
                    if sizes[STEPS] > budget:
                        raise Reject
                    break
