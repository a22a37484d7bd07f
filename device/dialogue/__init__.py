"""A request answered: the decision, the read-back, what the device says and the purchase limits."""
