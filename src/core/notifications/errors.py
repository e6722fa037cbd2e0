"""Errors of the notifications system. (None yet.)"""
