"""codewm's own world models: the tokenizer, the checkpoint format, training."""
