"""The training engine shared by the four methods."""
