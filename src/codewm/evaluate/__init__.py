"""Evaluation: CWM's trace-prediction metrics, pass@k, and the report of an evaluation run."""
