"""An example Steward pipeline: prepare Adult, train a small torch MLP, evaluate it."""
