"""Events the workflows system publishes. (None yet: durable jobs add them.)"""
