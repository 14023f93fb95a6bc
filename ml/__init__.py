"""The whitelist score: features, training, the model registry and scoring (DESIGN §4)."""
