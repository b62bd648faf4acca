"""World models behind one interface: `load_predictor("builtin" | "hf:PATH" | "openai:URL#MODEL" | "oracle" | "empty")`."""
