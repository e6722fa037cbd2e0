"""Events the notifications system publishes. (None yet.)"""
