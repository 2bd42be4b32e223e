"""Storage: SQL tables, the generic SQL log and write path, one dialect per engine, and their records.

records.py and errors.py are leaves every other module (and the watch cache) imports; database.py and
store.py are generic and call dialect.py's Protocol, implemented by sqlite.py and postgres.py.
"""
