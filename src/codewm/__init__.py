"""codewm: an open toolkit for code world models (models that predict, step by step, what a
Python program does when it runs).

The stages, in the order data flows through them (each imports only from those before it):

    trace      ground truth: run a program in a sandbox and record every step (the `Trace`)
    format     traces as text: CWM's token format, JSON, the pretty view
    programs   where programs and their calls come from: generators, miners, benchmark files
    examples   the programs bundled with codewm (hand-written, CRUXEval- and LiveCodeBench-style)
    dataset    datasets of traces: build, split, shard, read, export
    model      codewm's own world models: tokenizer, checkpoints, training
    predict    world models behind one interface (codewm's, Hugging Face, OpenAI-compatible,
               the oracle), and decoding traces from them
    evaluate   benchmarks: trace metrics, CRUXEval and LiveCodeBench scoring, reports
    debugger   the neural debugger: step through a program as a model predicts it
    cli.py     the `codewm` command over all of them
"""

__version__ = "0.1.0"
