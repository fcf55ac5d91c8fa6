"""What mint keeps on disk: the --resume journal, conversations, private directories and paths.

May import store (beside it), options, base and errors.
"""
