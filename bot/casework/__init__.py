"""Casework: complaints and their workflow, contacts, what staff do, the notifications citizens
get, and the database-backed ports the dialogue uses.
"""
