"""Errors of the workflows system. (None yet: durable jobs add them.)"""
