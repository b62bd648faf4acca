project = "tinypkg"
