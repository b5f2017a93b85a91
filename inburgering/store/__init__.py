"""The case file: our own SQL database, the truth about every journey."""
