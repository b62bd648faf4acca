"""Tools built on world models, one module or package each (`rank`: speculative validation)."""
