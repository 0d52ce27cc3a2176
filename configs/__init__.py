"""Training configs (ml_collections files with get_config()); installed as a package so that variants can import default.py."""
