"""Where programs and their inputs come from (bundled examples, benchmark files, generators)."""
