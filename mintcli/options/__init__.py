"""The option table: one row per option (settings, rows, kinds) and the config file.

May import base and errors only.
"""
