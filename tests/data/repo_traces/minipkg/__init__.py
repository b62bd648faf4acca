"""A tiny package whose tests the calls plugin watches."""
